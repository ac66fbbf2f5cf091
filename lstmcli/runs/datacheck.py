"""Is this data of the kind the run was trained on? `predict`, `rollout` and `evaluate`
compare the file they are given with what the run's bundle.json recorded, before any
forecast (docs/evaluation.md, "Data a run was not trained on").

    what        | compared with (bundle.json)              | when it differs
    ------------+------------------------------------------+--------------------------------
    columns     | config.data: time, series, features,    | error (exit 4) naming the column
                | targets                                  |
    frequency   | freq                                     | error (exit 4) naming both
    series      | scaler.series (data.scale_per_series)    | note naming them; each is scaled
                |                                          | by its own rows in the file
    values      | ranges: min and max of each column       | note naming the series, column
                | (per series with scale_per_series)       | and how far, when a value lies
                |                                          | more than one training range
                |                                          | beyond it

The rule: an error when the forecast cannot mean what it says (a model of daily steps
given weekly ones predicts days and stamps them as weeks; a missing input has no value);
a note when the forecast is computed as designed but may be poor (a series the run never
saw, a level it never saw: a business grows, a sensor is replaced).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from lstmcli.data.timegrid import offset_of
from lstmcli.errors import DataError, listed

# period words for the base of a pandas frequency alias (`to_offset(alias).name` without
# its multiple and anchor); legacy aliases included
_WORDS = {
    "D": ("daily", "day"), "B": ("business-daily", "business day"),
    "C": ("custom-business-daily", "business day"),
    "W": ("weekly", "week"), "SMS": ("semi-monthly", "half-month"),
    "SME": ("semi-monthly", "half-month"), "SM": ("semi-monthly", "half-month"),
    "MS": ("monthly", "month"), "ME": ("monthly", "month"), "M": ("monthly", "month"),
    "BMS": ("monthly", "month"), "BME": ("monthly", "month"), "BM": ("monthly", "month"),
    "QS": ("quarterly", "quarter"), "QE": ("quarterly", "quarter"), "Q": ("quarterly", "quarter"),
    "BQS": ("quarterly", "quarter"), "BQE": ("quarterly", "quarter"),
    "BQ": ("quarterly", "quarter"),
    "YS": ("yearly", "year"), "YE": ("yearly", "year"), "Y": ("yearly", "year"),
    "AS": ("yearly", "year"), "A": ("yearly", "year"), "BYS": ("yearly", "year"),
    "BYE": ("yearly", "year"), "BY": ("yearly", "year"), "BA": ("yearly", "year"),
    "h": ("hourly", "hour"), "H": ("hourly", "hour"), "bh": ("business-hourly", "hour"),
    "BH": ("business-hourly", "hour"), "min": ("minutely", "minute"), "T": ("minutely", "minute"),
    "s": ("secondly", "second"), "S": ("secondly", "second"),
    "ms": ("millisecondly", "millisecond"), "L": ("millisecondly", "millisecond"),
    "us": ("microsecondly", "microsecond"), "U": ("microsecondly", "microsecond"),
    "ns": ("nanosecondly", "nanosecond"), "N": ("nanosecondly", "nanosecond"),
}
SAME_STEP = 0.05  # two aliases are one frequency when their mean steps differ by less
PERIODS = 100  # steps the mean step of an alias is measured over


def freq_words(freq: str | int) -> str:
    """A frequency in words: 'daily (D)', 'every 2 weeks (2W-SUN)', 'every 7 steps'.

    >>> freq_words("W-SUN"), freq_words("15min"), freq_words(1)
    ('weekly (W-SUN)', 'every 15 minutes (15min)', 'every step')
    """
    if isinstance(freq, int):
        return "every step" if freq == 1 else f"every {freq} steps"
    off = offset_of(freq)
    if off is None:
        return repr(freq)
    base, n = off.rule_code.split("-")[0], off.n
    adjective, unit = _WORDS.get(base, (None, None))
    if adjective is None:
        return f"every {freq!r}"
    return f"{adjective} ({freq})" if n == 1 else f"every {n} {unit}s ({freq})"


def _mean_step(freq: str) -> pd.Timedelta | None:
    """The mean time between two stamps of `freq`, over PERIODS steps from a fixed date
    (months, business days and anchored weeks all have one)."""
    off = offset_of(freq)
    if off is None:
        return None
    try:
        start = pd.Timestamp("2001-01-01") + off  # on the anchor
        return (start + PERIODS * off - start) / PERIODS
    except (ValueError, TypeError, OverflowError):
        return None


def same_freq(a: str | int | None, b: str | int | None) -> bool:
    """Whether two frequencies are one time step. Unknown (None) matches anything; step
    numbers compare with step numbers, aliases by their mean step (W-SUN = W-MON,
    MS = ME, h = 60min; D != B != W). A step number and an alias do not compare (a file
    of step numbers says nothing of the calendar): they match."""
    if a is None or b is None or isinstance(a, int) != isinstance(b, int):
        return True
    if isinstance(a, int):
        return a == b
    if a == b:
        return True
    sa, sb = _mean_step(a), _mean_step(b)
    if sa is None or sb is None:
        return True
    return abs(sa - sb) <= SAME_STEP * max(sa, sb)


def check_freq(found: str | int | None, trained: str | int | None, *, path, run_dir) -> None:
    """DataError when the data's inferred frequency is not the run's."""
    if same_freq(found, trained):
        return
    what = "time steps are" if isinstance(found, int) else "time stamps are"
    raise DataError(f"{path}: {what} {freq_words(found)} but run {run_dir} was trained on "
                    f"{freq_words(trained)} data; give it data at the frequency it was trained "
                    "on (resample or aggregate it), or train a run on this data")


def inferred_freq(series_ds: list[pd.Index]) -> str | int | None:
    """The one frequency the series' time stamps have (None: none can be inferred, or they
    disagree): what `read_series` infers when data.freq is not set."""
    from lstmcli.data.per_series import _infer_freq

    found = {f for f in (_infer_freq(ds) for ds in series_ds) if f is not None}
    return found.pop() if len(found) == 1 else None


def check_columns(path, config, run_dir, *, shown=None) -> None:
    """DataError naming the first column the run reads (time, series id, feature or
    target) that the file's header lacks. shown: the file to name (default `path`)."""
    from lstmcli.data.csvfile import _col, _cols, read_header

    header = read_header(path)
    path = shown or path
    data = config.data
    wanted = [("time column", data.time), ("series column", data.series)]
    wanted += [("feature", c) for c in data.features or []]
    wanted += [("target", c) for c in data.targets or [] if c not in (data.features or [])]
    for role, name in wanted:
        if name is not None and name not in header:
            raise DataError(f"{path}: column {_col(name)} is missing: run {run_dir} was trained "
                            f"with it as a {role} (features {_cols(data.features or [])}, "
                            f"targets {_cols(data.targets or [])}); the file's columns are "
                            f"{_cols(header)}")


# ------------------------------------------------------------------------ value ranges


def ranges_of(columns: list[str], rows: dict[str, np.ndarray], *, per_series: bool) -> dict:
    """bundle.json's `ranges`: the min and max of each column over every row read in
    training (the validation tails included), and with per-series scaling each series' own.
    rows: series id -> (rows, columns) values, or (min, max) pairs already reduced."""
    lows, highs = {}, {}
    for sid, r in rows.items():
        lo, hi = r if isinstance(r, tuple) else (np.nanmin(r, axis=0), np.nanmax(r, axis=0))
        lows[sid], highs[sid] = np.asarray(lo, "float64"), np.asarray(hi, "float64")
    out = {"columns": list(columns),
           "min": np.min(np.stack(list(lows.values())), axis=0).tolist(),
           "max": np.max(np.stack(list(highs.values())), axis=0).tolist()}
    if per_series:
        out["series"] = {sid: {"min": lows[sid].tolist(), "max": highs[sid].tolist()}
                         for sid in lows}
    return out


def _g(v: float) -> str:
    """A value in a message: 4 significant digits, without an exponent in the usual
    range (18660, not 1.866e+04)."""
    if v == 0 or not 1e-4 <= abs(v) < 1e15:
        return f"{v:.4g}"
    text = f"{v:.{max(0, 3 - math.floor(math.log10(abs(v))))}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _how_far(lo: float, hi: float, low: float, high: float, seen: str
             ) -> tuple[float, str] | None:
    """How far values in [low, high] lie outside the training range [lo, hi]: in widths of
    that range (of its level for a column constant in training), and in words; None when
    within one width. `seen`: where the range comes from, in words."""
    width = hi - lo
    if width <= 1e-12 * max(1.0, abs(lo), abs(hi)):  # constant in training
        level = max(abs(lo), abs(hi))
        off = max(high - hi, lo - low)
        if off <= level:
            return None
        return off / max(level, 1e-300), (f"take values from {_g(low)} to {_g(high)}; in "
                                          f"training it was always {_g(lo)}")
    above, below = (high - hi) / width, (lo - low) / width
    if max(above, below) <= 1:
        return None
    if above >= below:
        if lo >= 0 and hi > 0 and high >= 2 * hi:  # a ratio says it best
            return above, f"reach {_g(high)}, {high / hi:.1f}x the largest value {seen} ({_g(hi)})"
        return above, (f"reach {_g(high)}, {above:.1f} training ranges above the largest value "
                       f"{seen} ({_g(hi)}; range {_g(lo)} to {_g(hi)})")
    if hi <= 0 and lo < 0 and low <= 2 * lo:
        return below, f"fall to {_g(low)}, {low / lo:.1f}x the smallest value {seen} ({_g(lo)})"
    if lo > 0 and 0 < low <= lo / 2:
        return below, (f"fall to {_g(low)}, 1/{lo / low:.1f} of the smallest value {seen} "
                       f"({_g(lo)})")
    return below, (f"fall to {_g(low)}, {below:.1f} training ranges below the smallest value "
                   f"{seen} ({_g(lo)}; range {_g(lo)} to {_g(hi)})")


def range_notes(ranges: dict | None, columns: list[str], rows, *, series_label: str | None,
                what: str) -> list[str]:
    """Notes on the columns whose values lie far outside the training range (more than one
    width of the range beyond it): per column, the series that lies farthest, and how many
    more do. rows: (series id, (rows, columns) values in `columns` order) pairs, or (series
    id, (min, max)) already reduced; `what`: which rows they are, as the subject of the
    sentence ("the input rows"); series_label: "series" in a long file, None in a wide one.
    ranges None (a run from before lstmcli recorded them): no notes."""
    if not ranges:
        return []
    from lstmcli.data.csvfile import _col

    place = {c: j for j, c in enumerate(columns)}
    known = [(k, c, place[c]) for k, c in enumerate(ranges["columns"]) if c in place]
    per_series = ranges.get("series") or {}
    worst: dict[str, tuple[float, str, str]] = {}
    count: dict[str, int] = {}
    for sid, r in rows:
        if isinstance(r, tuple):
            low, high = r
        else:
            if not len(r):
                continue
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                low, high = np.nanmin(r, axis=0), np.nanmax(r, axis=0)
        own = per_series.get(sid)
        if per_series and own is None:  # never seen: scaled by its own rows (unseen_note)
            continue
        seen = "of this series in training" if own else "seen in training"
        for k, c, j in known:
            if not np.isfinite(low[j]):
                continue
            lo, hi = ((own["min"][k], own["max"][k]) if own else
                      (ranges["min"][k], ranges["max"][k]))
            far = _how_far(lo, hi, float(low[j]), float(high[j]), seen)
            if far is None:
                continue
            count[c] = count.get(c, 0) + 1
            if c not in worst or far[0] > worst[c][0]:
                worst[c] = (far[0], sid, far[1])
    notes = []
    for c, (_, sid, words) in worst.items():
        who = f"{series_label} {_col(sid)}, column {_col(c)}" if series_label else \
            f"column {_col(c)}"
        more = count[c] - 1
        notes.append(f"{who}: {what} {words}"
                     + (f" ({more} more series also lie far outside their range)" if more
                        else "")
                     + "; forecasts this far from the training data are extrapolations: check"
                     " that the data is what the run was trained on (units, aggregation)")
    return notes


# ------------------------------------------------------------------- unseen series


def unseen_series(ids: list[str], scaler) -> list[str]:
    """Series of a per-series scaled run (data.scale_per_series) that have no scaler of
    their own: the run never saw them."""
    if not scaler.series:
        return []
    return [sid for sid in ids if sid not in scaler.series]


def with_own_scalers(scaler, rows: dict[str, np.ndarray]):
    """The scaler with each series in `rows` (the unseen ones) scaled by its own rows, as
    training scaled each series by its training rows."""
    from dataclasses import replace

    from lstmcli.data.scaling import Scaler

    own = {sid: Scaler.fit(scaler.kind, scaler.columns, r) for sid, r in rows.items()}
    return replace(scaler, series={**scaler.series,
                                   **{sid: (o.shift, o.scale) for sid, o in own.items()}})


def unseen_note(ids: list[str], path) -> str:
    names = listed([f"'{i}'" for i in ids])
    return (f"{len(ids)} series not in the training data ({names}): the run scales each series "
            f"by its own level (data.scale_per_series) and has none for them, so each is scaled "
            f"by its own rows in {path}; the model never saw these series")
