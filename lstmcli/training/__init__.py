"""Training: windows and batches, the layouts of each mode, the fit loop, stateful training,
checkpoints, distribution, signals."""
