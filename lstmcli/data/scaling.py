"""Per-column scalers fitted on the training rows only, stored as plain JSON numbers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Scaler:
    """y = (x - shift) / scale, column by column.

    minmax maps the training range to [0, 1]; standard to mean 0, std 1; mean divides by the
    mean absolute value (no shift: signs and ratios are kept); none is identity.
    A constant column gets scale 1 so it never divides by zero.

    Per-series scaling (`fit_per_series`) keeps each series' own parameters in `series`;
    `of(series_id)` gives the scaler of one series (the pooled one for a series that was
    not in the training data).
    """

    kind: str
    columns: list[str]
    shift: np.ndarray  # (columns,)
    scale: np.ndarray  # (columns,)
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

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
        elif kind == "mean":  # no shift: a positive series stays positive, ratios are kept
            shift, scale = np.zeros(n), np.abs(rows).mean(axis=0)
        else:
            raise ValueError(f"unknown scaler {kind!r}")
        # a constant column: std or range is 0, or float noise around 0 (std of seven
        # 0.1s is 1.4e-17): keep it as is instead of blowing later values up
        tiny = scale <= 1e-12 * np.maximum(np.abs(shift), 1.0)
        scale = np.where(tiny, 1.0, scale)
        return cls(kind, list(columns), shift.astype("float64"), scale.astype("float64"))

    @classmethod
    def fit_parts(cls, kind: str, columns: list[str], parts) -> Scaler:
        """`fit` on the rows of several arrays without stacking them (a store on disk is
        read one series at a time): `parts()` gives the arrays (rows, columns) afresh on
        each call. minmax is exactly `fit`'s; standard and mean agree to float rounding."""
        n = len(columns)
        count = sum(len(p) for p in parts())
        if kind == "none" or count == 0:
            return cls(kind, list(columns), np.zeros(n), np.ones(n))
        if kind == "minmax":
            lo = np.min([p.min(axis=0) for p in parts() if len(p)], axis=0)
            hi = np.max([p.max(axis=0) for p in parts() if len(p)], axis=0)
            return cls._made(kind, columns, lo, hi - lo)
        if kind == "standard":  # two passes: the mean, then the squared deviations from it
            mean = sum(p.sum(axis=0) for p in parts()) / count
            var = sum(((p - mean) ** 2).sum(axis=0) for p in parts()) / count
            return cls._made(kind, columns, mean, np.sqrt(var))
        if kind == "mean":
            return cls._made(kind, columns, np.zeros(n),
                             sum(np.abs(p).sum(axis=0) for p in parts()) / count)
        raise ValueError(f"unknown scaler {kind!r}")

    @classmethod
    def fit_per_series(cls, kind: str, columns: list[str],
                       rows: dict[str, np.ndarray]) -> Scaler:
        """One scaler per series (its own training rows), plus the pooled one."""
        pooled = cls.fit_parts(kind, columns, rows.values)
        own = {sid: cls.fit(kind, columns, r) for sid, r in rows.items()}
        return replace(pooled, series={sid: (o.shift, o.scale) for sid, o in own.items()})

    @classmethod
    def _made(cls, kind: str, columns: list[str], shift, scale) -> Scaler:
        shift, scale = np.asarray(shift, dtype="float64"), np.asarray(scale, dtype="float64")
        tiny = scale <= 1e-12 * np.maximum(np.abs(shift), 1.0)  # a constant column (as fit)
        return cls(kind, list(columns), shift, np.where(tiny, 1.0, scale))

    def of(self, series_id: str) -> Scaler:
        """The scaler of one series (itself when scaling is global)."""
        found = self.series.get(series_id)
        if found is None:
            return self if not self.series else replace(self, series={})
        return Scaler(self.kind, self.columns, *found)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.shift) / self.scale

    def inverse(self, values: np.ndarray, idx: list[int]) -> np.ndarray:
        """Undo the scaling of `values` whose last axis holds the columns `idx`."""
        return values * self.scale[idx] + self.shift[idx]

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "columns": self.columns,
               "shift": self.shift.tolist(), "scale": self.scale.tolist()}
        if self.series:
            out["series"] = {sid: {"shift": a.tolist(), "scale": b.tolist()}
                             for sid, (a, b) in self.series.items()}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        def arr(v):
            return np.asarray(v, dtype="float64")

        series = {str(sid): (arr(p["shift"]), arr(p["scale"]))
                  for sid, p in d.get("series", {}).items()}
        return cls(d["kind"], list(d["columns"]), arr(d["shift"]), arr(d["scale"]), series)
