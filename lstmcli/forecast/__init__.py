"""Forecasts from a run: the compiled loops, predict and rollout, intervals, output column names."""
