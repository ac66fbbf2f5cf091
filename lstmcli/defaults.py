"""A config picked from the data, for `lstmcli train DATA.csv --out RUN_DIR` without --config.

What it picks, and why (measured in docs/accuracy.md):
- look_back: two seasons (season length from the frequency), at least 8, at most 96, and
  at most a quarter of the shortest series;
- calendar features for the frequency (month for monthly and quarterly data, day of week
  for daily, hour and day of week for hourly, week of year for weekly);
- one LSTM(32) that learns changes from the window's last value (model.residual:
  last_value), so trends beyond the training range are followed;
- min-max scaling on the training rows, a 10% validation tail (at least one season),
  early stopping with patience 20 of at most 200 epochs, batch 32.
"""

from __future__ import annotations

from pathlib import Path

from lstmcli import metrics
from lstmcli.config import Config, DataSpec, config_from_dict
from lstmcli.data import Frame, read_series, with_calendar

CALENDAR = {1: [], 4: ["month"], 5: ["dayofweek"], 7: ["dayofweek"], 12: ["month"],
            24: ["hour", "dayofweek"], 52: ["weekofyear"]}


def auto_config(frame: Frame) -> tuple[Config, list[str]]:
    season = metrics.season_length(frame.freq)
    shortest = min(len(s.values) for s in frame.series)
    look_back = max(2, min(max(8, 2 * season), 96, shortest // 4))
    calendar = CALENDAR.get(season, []) if frame.time_col is not None and not isinstance(
        frame.freq, int) else []
    validation = 0.1 if shortest * 0.1 >= season else min(0.3, season / shortest)
    doc = {
        "data": {"calendar": calendar},
        "window": {"look_back": look_back},
        "model": {"layers": [{"units": 32}], "residual": "last_value"},
        "training": {"epochs": 200, "batch_size": 32, "validation": round(validation, 3),
                     "early_stopping": {"patience": 20}},
    }
    config = config_from_dict(doc, source="automatic config")
    notes = [f"no --config: picked look_back {look_back} (season length {season}), calendar "
             f"features {calendar or 'none'}, one LSTM(32) learning changes from the last "
             f"value, validation {validation:.0%}, early stopping (patience 20, up to 200 "
             "epochs); the config is saved as RUN_DIR/config.yaml to edit and reuse"]
    return config, notes


def picked(data_path: str | Path) -> tuple[Config, Frame, list[str]]:
    """Read the CSV once: the automatic config, the frame as that config reads it (with its
    calendar columns), and the note saying what was picked."""
    frame = read_series(data_path, DataSpec())
    config, notes = auto_config(frame)
    if config.data.calendar:
        frame = with_calendar(frame, config.data.calendar)
    return config, frame, notes
