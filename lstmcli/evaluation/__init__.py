"""Scoring: backtests, metrics and baselines, the automatic config."""
