"""The time grid of a series: its frequency, and where its stamps lie on it.

Stamps are int64: nanoseconds for dates (kind "M"), step numbers otherwise (kind "i").
The frequency is inferred from a series' first HEAD stamps, robustly to gaps: pandas'
own `infer_freq` when they are regular; otherwise the frequency `infer_freq` finds in the
longest run of them without a gap (a step at most 1.5 times the median step), kept only
when every stamp lies on its grid and more than half of the steps are exactly one step
of it. Each later stamp is then placed on that grid: a step of several places is a gap,
a stamp between two places makes the series irregular (no frequency).

    >>> days = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06",
    ...                          "2024-01-07"]).as_unit("ns").asi8
    >>> infer(days, "M")            # pd.infer_freq gives None: two days are missing
    'D'
    >>> places(days[0], days[1:], "D", "M")
    array([1, 4, 5, 6])             # places 2 and 3 are the gap
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

HEAD = 64  # stamps per series the frequency is inferred from; the later ones are placed
# Missing stamps are filled as rows (then handled by data.missing): at most this many per
# row present, beyond the first MISSING_SLACK; more means a wrong frequency, not gaps.
MISSING_PER_ROW, MISSING_SLACK = 10, 10_000


def offset_of(freq: str):
    """The pandas offset of a frequency alias, or None if pandas does not know it."""
    try:
        with warnings.catch_warnings():  # (deprecated aliases still name their offset)
            warnings.simplefilter("ignore")
            return to_offset(freq)
    except (ValueError, TypeError):
        return None


def _fixed_nanos(offset) -> int | None:
    """The step in nanoseconds of an offset of fixed length (D, h, 15min, ...), else None
    (months, weeks anchored to a weekday, business days, ...)."""
    if offset.n <= 0:
        return None
    try:
        return int(offset.nanos)
    except ValueError:
        return None


def _pandas_infer(times: np.ndarray) -> str | None:
    if len(times) < 3:
        return None
    with warnings.catch_warnings():  # pandas 3 announces a return-type change; we take either
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(pd.DatetimeIndex(times.view("datetime64[ns]")))
    return getattr(freq, "freqstr", freq)


def places(prev: int, times: np.ndarray, freq: str | int, kind: str) -> np.ndarray:
    """How many steps of `freq` each of `times` (sorted, after `prev`) lies after `prev`;
    -1 where a stamp is not on the grid of `freq` through `prev`. int64, (len(times),)."""
    times = np.asarray(times, dtype="int64")
    out = np.full(len(times), -1, dtype="int64")
    if not len(times):
        return out
    if kind != "M":
        step = int(freq)
    else:
        offset = to_offset(freq)
        step = _fixed_nanos(offset)
    if step is not None:
        # differences in uint64 (the stamps are sorted, after `prev`): nanosecond stamps
        # over 292 years apart would overflow int64
        diff = times.view(np.uint64) - np.uint64(int(prev) % 2**64)
        on = diff % np.uint64(step) == 0
        out[on] = (diff[on] // np.uint64(step)).astype("int64")
        return out
    # calendar offsets (months, anchored weeks, business days): their grid, at most one
    # place per day, so never more than ~214,000 places between two 1677..2262 stamps
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid = pd.date_range(start=pd.Timestamp(int(prev), unit="ns"),
                                 end=pd.Timestamp(int(times[-1]), unit="ns"),
                                 freq=offset).as_unit("ns").asi8
    except (pd.errors.OutOfBoundsDatetime, ValueError, OverflowError):
        return out
    if not len(grid) or grid[0] != prev:
        return out  # `prev` itself is not on the grid
    at = np.searchsorted(grid, times)
    inside = at < len(grid)
    hit = np.zeros(len(times), dtype=bool)
    hit[inside] = grid[at[inside]] == times[inside]
    out[hit] = at[hit]
    return out


def on_offset(stamp: int, freq: str | int, kind: str) -> bool:
    """Whether a stamp can begin a grid of `freq`: always for steps of fixed length; for
    anchored ones only on their anchor (W-SUN: Sundays, MS: firsts of months)."""
    if kind != "M":
        return True
    offset = to_offset(freq)
    if _fixed_nanos(offset) is not None:
        return True
    return bool(offset.is_on_offset(pd.Timestamp(int(stamp), unit="ns")))


def _explains(times: np.ndarray, freq: str | int, kind: str) -> int | None:
    """The missing stamps `freq` finds in `times` if every stamp is on its grid and more
    than half of the steps are exactly one step of it; else None."""
    p = places(int(times[0]), times[1:], freq, kind)
    if (p < 0).any():
        return None
    steps = np.diff(np.concatenate([[0], p]))
    if not (steps >= 1).all() or (steps == 1).sum() * 2 <= len(steps):
        return None
    return int(p[-1] + 1 - len(times))


def infer(times: np.ndarray, kind: str) -> str | int | None:
    """The frequency of sorted, distinct stamps (int64; ns for kind "M"), robust to gaps:
    see the module's doc. None when there are fewer than 3 or they are irregular."""
    times = np.asarray(times, dtype="int64")
    if len(times) < 3:
        return None
    steps = np.diff(times)
    if kind != "M":
        values, counts = np.unique(steps, return_counts=True)
        step = int(values[np.argmax(counts)])  # the most common step
        return step if step > 0 and _explains(times, step, kind) is not None else None
    freq = _pandas_infer(times)
    if freq is not None:
        return freq
    # the longest run without a gap (a step over 1.5 medians) gives pandas' alias
    median = float(np.median(steps))
    cuts = np.flatnonzero(steps > 1.5 * median) + 1
    runs = np.split(np.arange(len(times)), cuts)
    longest = max(runs, key=len)
    if len(longest) < 3:
        return None
    freq = _pandas_infer(times[longest])
    if freq is None or offset_of(freq) is None:
        return None
    missing = _explains(times, freq, kind)
    if missing is None:
        return None
    if freq == "D":  # weekdays only: business days, their gaps being holidays
        weekdays = pd.DatetimeIndex(times.view("datetime64[ns]")).day_of_week
        if (weekdays < 5).all():
            business = _explains(times, "B", kind)
            if business is not None and business < missing:
                return "B"
    return freq


def given(freq: str, kind: str) -> str | int | None:
    """data.freq for stamps of `kind`: a step number for step numbers ("7" -> 7), a pandas
    alias for dates; None if it is neither."""
    if kind != "M":
        text = freq.strip()
        return int(text) if text.isdigit() and int(text) > 0 else None
    offset = offset_of(freq)
    return freq if offset is not None and offset.n > 0 else None


def stamps(first: int, n: int, freq: str | int, kind: str) -> np.ndarray:
    """The n stamps of the grid from `first` on, int64 (ns for dates)."""
    if kind != "M":
        return first + int(freq) * np.arange(n, dtype="int64")
    offset = to_offset(freq)
    step = _fixed_nanos(offset)
    if step is not None:
        return first + step * np.arange(n, dtype="int64")
    return pd.date_range(start=pd.Timestamp(int(first), unit="ns"), periods=n,
                         freq=offset).as_unit("ns").asi8


def too_many(missing: int, rows: int) -> bool:
    """Whether `missing` stamps among `rows` rows are beyond gaps (a wrong frequency)."""
    return missing > MISSING_PER_ROW * rows + MISSING_SLACK
