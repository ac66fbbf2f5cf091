"""Per-column scalers fitted on the training rows only, stored as plain JSON numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scaler:
    """y = (x - shift) / scale, column by column.

    minmax maps the training range to [0, 1]; standard to mean 0, std 1; none is identity.
    A constant column gets scale 1 so it never divides by zero.
    """

    kind: str
    columns: list[str]
    shift: np.ndarray  # (columns,)
    scale: np.ndarray  # (columns,)

    @classmethod
    def fit(cls, kind: str, columns: list[str], rows: np.ndarray) -> Scaler:
        """Fit on `rows` (n, columns): the training part of every series stacked."""
        n = len(columns)
        if kind == "none" or len(rows) == 0:
            return cls(kind, list(columns), np.zeros(n), np.ones(n))
        if kind == "minmax":
            shift, scale = rows.min(axis=0), rows.max(axis=0) - rows.min(axis=0)
        elif kind == "standard":
            shift, scale = rows.mean(axis=0), rows.std(axis=0)
        else:
            raise ValueError(f"unknown scaler {kind!r}")
        # a constant column: std or range is 0, or float noise around 0 (std of seven
        # 0.1s is 1.4e-17): keep it as is instead of blowing later values up
        tiny = scale <= 1e-12 * np.maximum(np.abs(shift), 1.0)
        scale = np.where(tiny, 1.0, scale)
        return cls(kind, list(columns), shift.astype("float64"), scale.astype("float64"))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.shift) / self.scale

    def inverse(self, values: np.ndarray, idx: list[int]) -> np.ndarray:
        """Undo the scaling of `values` whose last axis holds the columns `idx`."""
        return values * self.scale[idx] + self.shift[idx]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "columns": self.columns,
                "shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(d["kind"], list(d["columns"]), np.asarray(d["shift"], dtype="float64"),
                   np.asarray(d["scale"], dtype="float64"))
