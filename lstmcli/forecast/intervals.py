"""Prediction intervals: split-conformal, from rollouts over the validation tail.

After training, the model rolls out from every origin in each series' validation tail (rows
it did not fit; early stopping did look at their loss), and the errors y − ŷ of each
horizon step are collected over all those origins, each in its series' own unit
(`unit`): the geometric mean of its level (its scaler's scale) and its spread (the mean
absolute seasonal difference of the rows before the origin, the MASE scale), so series of
any level pool on one footing and a volatile series gets wider intervals than a calm one
of the same level. Each error is
divided by its step's scale s_h (the mean absolute error of step h, made non-decreasing in
h); the conformal order statistics q_lo, q_hi of all these normalised errors
(`metrics.interval_from_residuals`) give the interval [ŷ + s_h·q_lo, ŷ + s_h·q_hi] for
step h. Pooling the steps this way keeps far steps (seen from few origins) from getting
intervals built on one or two errors. Stored in bundle.json; `rollout` and `predict` add
the columns `<target>_lo_<L>` / `<target>_hi_<L>` (columns.py).

Widths grow with h because the errors of far steps are larger: no distribution is assumed.
Calibrated for `horizon` steps (at most the longest validation tail), from at most
MAX_ORIGINS origins; steps beyond extend the last calibrated width by √(h / N), or by the
calibrated widths' own growth per step where that is faster, and rollout says so.
"""

from __future__ import annotations

from itertools import groupby

import numpy as np

from lstmcli.evaluation import metrics
from lstmcli.training.windows import edge_padded

LEVELS = (80, 95)
METHOD = "split-conformal on rollouts from origins in the validation tails"
UNITS = "level_spread"  # bundle.json's intervals.units: offsets are in `unit`s
MAX_ORIGINS = 2000  # evenly spaced when the tails hold more


def calibrate(model, series: list[tuple], *, feature_idx: list[int], target_idx: list[int],
              feedback: list[int], look_back: int, per_step: bool, horizon: int,
              season: int = 1, min_input: int | None = None) -> dict | None:
    """Interval offsets for steps 1..horizon, from (rows(a, b) -> its rows a..b-1 in
    original units, its length, its training rows, its scaler) of each series: only the
    rows the origins need are read, one series at a time. feedback: as for
    `forecast.window_rollout` (-1: a calendar feature, read from the known rows). None when
    there is nothing to calibrate on (no validation tail, or inputs that rollout could not
    feed: past covariates). min_input: an origin needs this many rows before it (fewer than
    look_back: the window repeats the series' first row in front, window.min_input)."""
    from lstmcli.forecast.loops import window_rollout

    fed = {feature_idx[j] for j, i in enumerate(feedback) if i >= 0}
    if fed != set(target_idx):
        return None
    horizon = min(horizon, max((length - n for _, length, n, _ in series), default=0))
    places = _origins(series, min_input or look_back)
    if horizon == 0 or not places:
        return None
    windows, truths, known, units = [], [], [], []
    steps = horizon + (1 if per_step else int(model.outputs[0].shape[1]))  # whole calls
    for i, group in groupby(places, key=lambda place: place[0]):  # series by series
        rows, length, _, scaler = series[i]
        ts = [t for _, t in group]
        known_rows = np.asarray(rows(0, ts[0]))[:, target_idx]  # what the first origin knows
        units += [unit(known_rows, scaler.scale[target_idx], season)] * len(ts)
        lo, hi = max(0, ts[0] - look_back), min(length, ts[-1] + steps)
        values = np.asarray(rows(lo, hi))
        scaled = scaler.transform(values)[:, feature_idx].astype("float32")
        for t in ts:
            windows.append(edge_padded(scaled[max(0, t - lo - look_back):t - lo], look_back))
            truth = np.full((horizon, len(target_idx)), np.nan)
            part = values[t - lo:t - lo + horizon][:, target_idx]
            truth[:len(part)] = part
            truths.append(truth)
            future = np.zeros((steps, len(feature_idx)), dtype="float32")
            ahead = scaled[t - lo:t - lo + steps]  # calendar features inside the series
            future[:len(ahead)] = ahead
            known.append(future)
    pred = window_rollout(model, np.stack(windows), horizon=horizon, feedback=feedback,
                          per_step=per_step, exo=np.stack(known))
    pred = np.stack([series[i][3].inverse(p, target_idx)
                     for (i, _), p in zip(places, pred, strict=True)])
    # in each series' own unit: series of different levels and volatilities pool their
    # errors on one footing, and rollout multiplies the offsets back per series
    # (origins, horizon, targets); NaN past the series' ends
    errors = (np.stack(truths) - pred) / np.stack(units)[:, None, :]
    out = {"method": METHOD, "levels": list(LEVELS), "horizon": horizon,
           "origins": len(windows), "units": UNITS, "season": season, "lo": {}, "hi": {}}
    for level in LEVELS:
        lo, hi = zip(*(_offsets(errors[:, :, k], level / 100) for k in range(len(target_idx))),
                     strict=True)
        out["lo"][str(level)] = _listed(np.stack(lo, axis=1))  # (horizon, targets)
        out["hi"][str(level)] = _listed(np.stack(hi, axis=1))
    return out


def unit(values: np.ndarray, scale: np.ndarray, season: int) -> np.ndarray:
    """A series' unit for interval offsets, per target: √(scale · spread), the geometric mean
    of its level (its scaler's `scale`) and its `metrics.spread` over `values` (n, targets).

    Measured on the Tourism and M1 collections (80% / 95% coverage of the automatic
    config), by what the errors were divided by:
    the level alone: 81/95, 79/96, 81/94, 82/96, 77/92 (Tourism monthly, quarterly,
    yearly, M1 monthly, quarterly), with calm series over-covered and volatile ones
    under-covered (M1 yearly by quartile of volatility: 96, 82, 55, 54%);
    the spread alone: 84/97, 83/96, 86/97, 86/97, 81/95, even across volatility on M1 but
    wide everywhere; this geometric mean: between the two (docs/accuracy.md)."""
    return np.sqrt(np.asarray(scale, dtype="float64") * metrics.spread(values, season))


def unit_of(intervals, values: np.ndarray, scale: np.ndarray | None) -> np.ndarray | float:
    """What a run's offsets are multiplied by for one series: its `unit` (`values`: its
    known target rows, (n, targets); `scale`: its scaler's) for runs calibrated in those;
    its scaler's `scale` for runs calibrated in scaled units; 1 for the oldest runs
    (original units)."""
    units = getattr(intervals, "units", None)  # absent in older runs
    if units == UNITS and scale is not None:
        return unit(values, scale, getattr(intervals, "season", None) or 1)
    return scale if units == "scaled" and scale is not None else 1.0


def _origins(series: list[tuple], before: int) -> list[tuple[int, int]]:
    """(series, row) of each origin with at least `before` rows before it: every row of
    the validation tails, or MAX_ORIGINS of them evenly spaced (chosen by their place among
    all, never listed all)."""
    first = [max(n_train, before) for _, _, n_train, _ in series]
    counts = np.array([max(0, length - f) for (_, length, _, _), f in zip(series, first,
                                                                          strict=True)])
    total = int(counts.sum())
    chosen = (np.arange(total) if total <= MAX_ORIGINS
              else np.linspace(0, total - 1, MAX_ORIGINS).astype(int))
    ends = np.cumsum(counts)
    which = np.searchsorted(ends, chosen, side="right")
    return [(int(i), first[i] + int(k - (ends[i] - counts[i])))
            for i, k in zip(which, chosen, strict=True)]


def _offsets(errors: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised conformal offsets for one target: errors (origins, horizon).

    Far steps have few errors (an origin near a series' end sees few steps after it), so
    the steps are pooled: each error is divided by its step's scale (mean absolute error,
    made non-decreasing in h), the conformal quantiles are taken over all of them, and
    scaled back per step.
    """
    with np.errstate(all="ignore"):
        scale = np.fmax.accumulate(np.nanmean(np.abs(errors), axis=0))
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, np.nan)
    z = (errors / scale).reshape(-1, 1)
    lo_q, hi_q = metrics.interval_from_residuals(z[np.isfinite(z)].reshape(-1, 1), level)
    return scale * lo_q[0], scale * hi_q[0]


def _listed(a: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in a]


def bands(intervals, horizon: int, n_targets: int, factor: np.ndarray | float = 1.0
          ) -> dict[int, tuple[np.ndarray, ...]]:
    """level -> (lo, hi) offsets of shape (horizon, targets) in original units, from a run's
    calibrated intervals (bundle.json's `intervals`, `runs.meta.IntervalsMeta`) and
    `factor`, the series' `unit_of` each target.

    Steps past the calibrated ones extend the last calibrated offsets (`_beyond`); rollout
    says so."""
    out = {}
    for level in intervals.levels:
        sides = []
        for side in ("lo", "hi"):
            known = np.array(getattr(intervals, side)[str(level)], dtype="float64")[:horizon]
            sides.append(np.concatenate([known, _beyond(known, horizon, n_targets)]) * factor)
        out[int(level)] = tuple(sides)
    return out


def _beyond(known: np.ndarray, horizon: int, n_targets: int) -> np.ndarray:
    """Offsets for the steps after the N calibrated ones (`known`, (N, targets)): the last
    one grown by √(h / N) (a random walk's spread), or, where the calibrated offsets grew
    faster than that, by their own mean growth per step (a straight line on from step N):
    on M1 yearly (calibrated for 3 steps, asked for 6) steps 4-6 of the 80% interval
    covered 67, 61, 60% with the square root alone, 68, 65, 71% with the line."""
    n = len(known)
    if not n or horizon <= n:
        return np.empty((0, n_targets))
    steps = np.arange(n + 1, horizon + 1)[:, None]
    root = known[-1:] * np.sqrt(steps / n)
    if n < 2:
        return root
    line = known[-1:] + (known[-1:] - known[:1]) / (n - 1) * (steps - n)
    return np.where(np.abs(line) > np.abs(root), line, root)
