"""Calendar features: future-known covariates derived from the time stamps.

Each named feature becomes two columns, `<name>_sin` and `<name>_cos` (a point on the
circle, so December sits next to January and 23h next to 0h). They are inputs only, never
targets, and since they are known for any future time stamp, `rollout` computes them for
each forecast step instead of predicting them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# name -> (position in the cycle, from 0, of a DatetimeIndex; cycle length)
CYCLES = {
    "hour": (lambda ds: ds.hour + ds.minute / 60, 24),
    "dayofweek": (lambda ds: ds.day_of_week, 7),
    "dayofmonth": (lambda ds: ds.day - 1, 31),
    "dayofyear": (lambda ds: ds.day_of_year - 1, 366),
    "weekofyear": (lambda ds: ds.isocalendar().week.to_numpy(dtype="float64") - 1, 53),
    "month": (lambda ds: ds.month - 1, 12),
}


def column_names(names: list[str]) -> list[str]:
    return [f"{n}_{part}" for n in names for part in ("sin", "cos")]


def features(ds: pd.DatetimeIndex, names: list[str]) -> np.ndarray:
    """(len(ds), 2 * len(names)) float64: sin and cos of each named cycle."""
    out = np.empty((len(ds), 2 * len(names)))
    for j, name in enumerate(names):
        position, cycle = CYCLES[name]
        angle = 2 * np.pi * np.asarray(position(ds), dtype="float64") / cycle
        out[:, 2 * j], out[:, 2 * j + 1] = np.sin(angle), np.cos(angle)
    return out
