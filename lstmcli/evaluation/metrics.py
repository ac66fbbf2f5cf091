"""Pure numpy: forecast accuracy, the naive baselines to beat, and empirical intervals.

Every metric takes a forecast `pred` and the truth `true` of the same size (any shape; they
are flattened) and skips the pairs where either value is NaN. Score one target at a time:
pass (horizon,) arrays, or columns `pred[:, j]`; `scores_by_target` loops over the columns.

    metric | definition over the n kept pairs (y = true, f = pred)
    -------+---------------------------------------------------------------
    mae    | mean |y - f|
    rmse   | sqrt(mean (y - f)^2)
    smape  | mean 200 |y - f| / (|y| + |f|), in percent (M4); 0 where y = f = 0
    mase   | mae / mean |z_t - z_{t-m}|, t = m..len(z)-1, z the in-sample series

A metric with no pair left is NaN. Baselines index along axis 0, so (n,) histories give
(horizon,) forecasts and (n, k) histories give (horizon, k). Only `season_length` uses pandas
(imported inside it), to parse frequency aliases.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

# ------------------------------------------------------------------- seasonal period

# Aliases that pandas 3 no longer parses, renamed to the spelling it does ("2H" -> "2h",
# "A-DEC" -> "YE-DEC"). pandas 2 still parses most of them (with a FutureWarning).
_LEGACY = {"H": "h", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns",
           "M": "ME", "Q": "QE", "Y": "YE", "A": "YE", "AS": "YS",
           "BM": "BME", "BQ": "BQE", "BY": "BYE", "BA": "BYE", "BAS": "BYS", "BH": "bh"}
_ALIAS = re.compile(r"^([+-]?\d*)([A-Za-z]+)(-\w+)?$")

# Calendar offsets: steps per year (months -> 12, quarters -> 4, ...); the class names that a
# pandas version lacks (HalfYear* before 3.0) are skipped.
_PER_YEAR = {
    52: ["Week"],
    24: ["SemiMonthBegin", "SemiMonthEnd"],
    12: ["MonthBegin", "MonthEnd", "BusinessMonthBegin", "BusinessMonthEnd",
         "CustomBusinessMonthBegin", "CustomBusinessMonthEnd", "WeekOfMonth", "LastWeekOfMonth"],
    4: ["QuarterBegin", "QuarterEnd", "BQuarterBegin", "BQuarterEnd", "FY5253Quarter"],
    2: ["HalfYearBegin", "HalfYearEnd", "BHalfYearBegin", "BHalfYearEnd"],
}
_BUSINESS_DAY = ("BusinessDay", "CustomBusinessDay")  # 5 per week

_SECOND, _MINUTE, _HOUR, _DAY, _WEEK = 1, 60, 3600, 86400, 604800
# Fixed-length steps: (unit in seconds, units in one cycle of the next unit up)
_TICK_CYCLES = [(_WEEK, 52), (_DAY, 7), (_HOUR, 24), (_MINUTE, 60), (_SECOND, 60)]


def _offset_classes(names) -> tuple[type, ...]:
    import pandas as pd

    return tuple(c for c in (getattr(pd.offsets, n, None) for n in names) if c is not None)


def _parse(freq: str):
    """`freq` as a pandas offset, accepting legacy aliases; None if pandas cannot read it."""
    from pandas.tseries.frequencies import to_offset

    match = _ALIAS.match(freq)
    candidates = [freq]
    if match and match.group(2) in _LEGACY:
        n, prefix, suffix = match.groups()
        candidates.append(f"{n}{_LEGACY[prefix]}{suffix or ''}")
    for alias in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas 2's "H is deprecated" FutureWarning
                return to_offset(alias)
        except (ValueError, TypeError):
            continue
    return None


def _divide(cycle: int, n: int) -> int:
    """Steps of size n in a cycle of `cycle` units: cycle / n when that is whole, else 1."""
    return cycle // n if cycle % n == 0 else 1


def season_length(freq: str | int | None) -> int:
    """The usual seasonal period, in steps, of data with frequency `freq`.

    `freq` is a pandas alias as `pd.infer_freq` writes it (a DateOffset is also accepted).
    Integer steps, None (irregular), and aliases pandas cannot parse give 1: no season.

        unit         | period | cycle            | multiples of the unit
        -------------+--------+------------------+-------------------------------------
        s            |   60   | minute           | 10s -> 360 (hour: 3600 / 10)
        min          |   60   | hour             | 15min -> 96, 30min -> 48 (day)
        h            |   24   | day              | 2h -> 12, 6h -> 4
        D            |    7   | week             | 7D -> 52 (a week), 2D -> 1
        B (bus. day) |    5   | week             |
        W, W-SUN     |   52   | year             | 2W-SUN -> 26
        SMS, SME     |   24   | year             |
        MS, ME, BME  |   12   | year             | 3MS -> 4
        QS-JAN, QE   |    4   | year             |
        YS-JAN, YE   |    1   | (none)           |

    A multiple n of the unit takes the cycle count divided by n, or 1 when n does not divide
    it (5h -> 1). Multiples of seconds and minutes use the cycle one level further up (hour,
    day), since an hour of 15-minute steps is too short a season; this is the convention of
    intraday meter and market data (48 half-hours, 96 quarter-hours a day). Sub-second steps,
    business hours and other offsets give 1. Legacy aliases are read too ("H", "T", "S",
    "M", "Q", "A", "A-DEC", ...).

    >>> [season_length(f) for f in ["h", "2h", "D", "B", "W-SUN", "MS", "QE-DEC", "YS-JAN"]]
    [24, 12, 7, 5, 52, 12, 4, 1]
    >>> [season_length(f) for f in ["min", "15min", "30min", "s", 1, None, "nonsense"]]
    [60, 96, 48, 60, 1, 1, 1]
    """
    if freq is None or isinstance(freq, (int, np.integer)):
        return 1
    import pandas as pd

    offset = _parse(freq.strip()) if isinstance(freq, str) else freq
    if not isinstance(offset, pd.offsets.BaseOffset):
        return 1
    n = abs(int(offset.n))
    if n == 0:
        return 1
    if isinstance(offset, (pd.offsets.Tick, pd.offsets.Day)):  # fixed length; Day is no Tick in 3.0
        seconds, rest = divmod(abs(int(offset.nanos)), 10**9)
        if rest or seconds <= 0:
            return 1  # sub-second (or zero) steps
        for unit, cycle in _TICK_CYCLES:
            if seconds % unit == 0:
                k = seconds // unit
                if unit in (_SECOND, _MINUTE) and k > 1:
                    cycle *= 60 if unit == _SECOND else 24  # 15min -> the day, 10s -> the hour
                return _divide(cycle, k)
    if isinstance(offset, _offset_classes(_BUSINESS_DAY)):
        return _divide(5, n)
    for per_year, names in _PER_YEAR.items():
        if isinstance(offset, _offset_classes(names)):
            return _divide(per_year, n)
    return 1


# ------------------------------------------------------------------- baselines


def _check_history(history: np.ndarray, horizon: int) -> np.ndarray:
    history = np.asarray(history)
    if horizon < 1:
        raise ValueError(f"`horizon` must be >= 1. Received: horizon={horizon}")
    if history.ndim not in (1, 2) or len(history) == 0:
        raise ValueError("`history` must be a non-empty (n,) or (n, k) array. "
                         f"Received: shape={history.shape}")
    return history


def naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last value of `history` (n, k), repeated: (horizon, k).

    >>> naive(np.array([[1.0, 10.0], [2.0, 20.0]]), 3).tolist()
    [[2.0, 20.0], [2.0, 20.0], [2.0, 20.0]]
    """
    history = _check_history(history, horizon)
    return history[np.full(horizon, len(history) - 1)]


def seasonal_naive(history: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """The value one season of `m` steps earlier, repeating the last season: (horizon, k).

    forecast[h] = history[n - m + (h % m)]. With m <= 1, or fewer than m rows, this is
    `naive`.

        n = 6, m = 3 | h:   0  1  2  3  4  5
        -------------+-------------------------
        row used     |      3  4  5  3  4  5

    >>> seasonal_naive(np.arange(6.0), 5, 3).tolist()
    [3.0, 4.0, 5.0, 3.0, 4.0]
    """
    history = _check_history(history, horizon)
    n = len(history)
    if m <= 1 or n < m:
        return naive(history, horizon)
    return history[n - m + np.arange(horizon) % m]


# ------------------------------------------------------------------- point metrics


def _pairs(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened float copies of `pred` and `true`, without the pairs that hold a NaN."""
    p = np.asarray(pred, dtype="float64").ravel()
    t = np.asarray(true, dtype="float64").ravel()
    if p.size != t.size:
        raise ValueError("`pred` and `true` must have the same number of values. "
                         f"Received: pred.shape={np.shape(pred)}, true.shape={np.shape(true)}")
    keep = ~(np.isnan(p) | np.isnan(t))
    return p[keep], t[keep]


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error; NaN pairs skipped; NaN if none is left."""
    p, t = _pairs(pred, true)
    return float(np.mean(np.abs(t - p))) if t.size else math.nan


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error; NaN pairs skipped; NaN if none is left."""
    p, t = _pairs(pred, true)
    return float(np.sqrt(np.mean((t - p) ** 2))) if t.size else math.nan


def smape(pred: np.ndarray, true: np.ndarray) -> float:
    """Symmetric MAPE as in the M4 competition, in percent (0 to 200).

    mean of 200 |y - f| / (|y| + |f|); a pair with y = f = 0 counts as 0 (a perfect forecast
    of zero), not NaN. NaN pairs skipped; NaN if none is left.
    """
    p, t = _pairs(pred, true)
    if not t.size:
        return math.nan
    denom = np.abs(t) + np.abs(p)
    terms = np.divide(200.0 * np.abs(t - p), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(terms))


def mase_scale(insample: np.ndarray, m: int = 1) -> float:
    """In-sample MAE of the seasonal naive method: mean |z_t - z_{t-m}| over t = m..n-1.

    `insample` is one series, (n,) or (n, 1). m < 1, or m >= n (no full season to compare),
    falls back to m = 1. Differences with a NaN are skipped; NaN if none is left.
    """
    z = np.asarray(insample, dtype="float64")
    if z.ndim == 2 and z.shape[1] == 1:
        z = z[:, 0]
    if z.ndim != 1:
        raise ValueError("`insample` must be one series, (n,) or (n, 1). "
                         f"Received: shape={z.shape}; score each target separately")
    if m < 1 or m >= len(z):
        m = 1
    diffs = np.abs(z[m:] - z[:-m])
    diffs = diffs[~np.isnan(diffs)]
    return float(np.mean(diffs)) if diffs.size else math.nan


def spread(values: np.ndarray, season: int) -> np.ndarray:
    """A series' spread, per column of values (n, k): the mean absolute difference of
    values `season` steps apart (1 step when there is no full season and one more row),
    the in-sample MASE scale; at least 1% of the mean absolute value (and 1e-8), so a flat
    series still has one (the `mase` loss's weights, the intervals' unit).

    >>> spread(np.array([[10.0], [12.0], [11.0], [13.0]]), 2).tolist()
    [1.0]
    >>> spread(np.full((5, 1), 50.0), 1).tolist()  # flat: 1% of its level
    [0.5]
    """
    v = np.asarray(values, dtype="float64")
    if not len(v):
        return np.full(v.shape[1:], 1e-8)
    m = season if len(v) > season + 1 else 1
    with np.errstate(all="ignore"):
        diffs = np.nanmean(np.abs(v[m:] - v[:-m]), axis=0) if len(v) > m else np.nan
        floor = np.fmax(0.01 * np.nanmean(np.abs(v), axis=0), 1e-8)
    diffs = np.broadcast_to(diffs, v.shape[1:])
    return np.where(np.isfinite(diffs), np.fmax(diffs, np.nan_to_num(floor, nan=1e-8)),
                    np.nan_to_num(floor, nan=1e-8))


def mase(pred: np.ndarray, true: np.ndarray, insample: np.ndarray, m: int = 1) -> float:
    """Mean absolute scaled error: `mae(pred, true) / mase_scale(insample, m)`.

    Below 1 beats the in-sample seasonal naive forecast. A flat in-sample series has scale 0:
    MASE is then inf if the forecast has any error and 0 if it is exact, rather than a huge
    number from dividing by a tiny epsilon. NaN if either part is NaN (no pairs, or fewer
    than two in-sample values).
    """
    error, scale = mae(pred, true), mase_scale(insample, m)
    if math.isnan(error) or math.isnan(scale):
        return math.nan
    if scale == 0:
        return math.inf if error > 0 else 0.0
    return error / scale


def scores(pred: np.ndarray, true: np.ndarray, insample: np.ndarray, m: int = 1
           ) -> dict[str, float]:
    """All four metrics for one target: {"mae", "rmse", "smape", "mase"}."""
    return {"mae": mae(pred, true), "rmse": rmse(pred, true), "smape": smape(pred, true),
            "mase": mase(pred, true, insample, m)}


def scores_by_target(pred: np.ndarray, true: np.ndarray, insample: np.ndarray, m: int = 1
                     ) -> list[dict[str, float]]:
    """`scores` for each column: pred, true (horizon, k), insample (n, k) -> k dicts."""
    pred, true, insample = (np.asarray(a) for a in (pred, true, insample))
    if pred.ndim != 2 or pred.shape != true.shape or insample.ndim != 2 \
            or insample.shape[1] != pred.shape[1]:
        raise ValueError("expected pred and true (horizon, k) and insample (n, k). Received: "
                         f"pred.shape={pred.shape}, true.shape={true.shape}, "
                         f"insample.shape={insample.shape}")
    return [scores(pred[:, j], true[:, j], insample[:, j], m) for j in range(pred.shape[1])]


# ------------------------------------------------------------------- intervals


def coverage(lo: np.ndarray, hi: np.ndarray, true: np.ndarray) -> float:
    """Fraction of `true` values inside [lo, hi], bounds included; NaN values skipped."""
    lo, hi, true = np.broadcast_arrays(*(np.asarray(a, dtype="float64") for a in (lo, hi, true)))
    keep = ~(np.isnan(lo) | np.isnan(hi) | np.isnan(true))
    if not keep.any():
        return math.nan
    inside = (lo[keep] <= true[keep]) & (true[keep] <= hi[keep])
    return float(np.mean(inside))


def interval_from_residuals(residuals: np.ndarray, level: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Offsets that turn a point forecast into a `level` interval, from past errors.

    `residuals` (n_origins, horizon) holds true - pred of earlier forecasts, one row per
    forecast origin. Returns lo_offset and hi_offset, each (horizon,): the interval is
    [pred + lo_offset, pred + hi_offset].

    Per horizon step, with the n non-NaN residuals sorted, hi_offset is the k-th smallest
    and lo_offset the k-th largest, k = ceil((n + 1) (1 + level) / 2): the split-conformal
    order statistic, which covers at least `level` of new errors that are exchangeable with
    the past ones (np.quantile would under-cover when n is small). When n is too small for
    the level (k > n, i.e. n < 2 / (1 - level) - 1) k is clipped to n: the interval is the
    range of the residuals and its coverage can fall short of `level`. A step with no
    residuals gives NaN offsets. For large n this tends to the (1 -/+ level) / 2 quantiles.

    >>> lo, hi = interval_from_residuals(np.arange(1.0, 20.0)[:, None], 0.8)  # n = 19: k = 18
    >>> lo.tolist(), hi.tolist()
    ([2.0], [18.0])
    """
    r = np.asarray(residuals, dtype="float64")
    if r.ndim != 2:
        raise ValueError("`residuals` must be (n_origins, horizon). "
                         f"Received: shape={r.shape}")
    if not 0 < level < 1:
        raise ValueError(f"`level` must be between 0 and 1 (0.8 for 80%). Received: level={level}")
    lo = np.full(r.shape[1], np.nan)
    hi = np.full(r.shape[1], np.nan)
    for h in range(r.shape[1]):
        col = np.sort(r[~np.isnan(r[:, h]), h])
        n = col.size
        if n == 0:
            continue
        # tiny tolerance: (n + 1) * 0.9 must give 9, not 9.000000000000002 -> 10
        k = min(n, math.ceil((n + 1) * (1 + level) / 2 - 1e-9))
        hi[h] = col[k - 1]
        lo[h] = col[n - k]
    return lo, hi
