"""Run directories and output files: the bundle, atomic writes, locks, the output policy, data
checked against a run."""
