"""Which columns are the time and the series id: by the data section, by name, or by their
values (`recognise`: `store, day, revenue` is long format), with notes saying what was
taken and why."""

from __future__ import annotations

import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import DataSpec
from lstmcli.data.cells import ZONE, _numeric
from lstmcli.data.csvfile import (
    CHUNK_ROWS,
    _clean,
    _col,
    _cols,
    _did_you_mean,
    _line,
    _read_csv,
    _val,
    setting,
)
from lstmcli.errors import DataError

# Time-column names, matched ignoring case, spaces and hyphens ("Date", "time stamp"), in
# this order of preference; without one, a text column whose first rows are dates is taken.
TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime", "date_time", "time_stamp", "dt",
              "ts", "month", "period", "week", "day", "year", "quarter", "hour")


# Of those, names that also name a cycle or a count (hour of day, day of week): such a
# column is the time column only when its first PEEK_ROWS values look like time (dates, or
# numbers that never repeat within a series); else it is an ordinary column, with a note.
WEAK_TIME_NAMES = frozenset({"dt", "ts", "week", "day", "year", "quarter", "hour"})
SERIES_NAME = "unique_id"
PEEK_ROWS = 100  # rows read to tell text columns from numbers, and dates from other text
DATE_ROWS = 20  # a text column whose first DATE_ROWS values are all dates holds time stamps


def _pick_time_col(columns: list[str], spec: DataSpec, path: Path, *, series_col=None,
                   peek=None, long_by_values=None) -> tuple[str | None, list[str]]:
    """The time column from the config, else by name (TIME_NAMES, not one listed in
    data.features or data.targets); a weakly named one (WEAK_TIME_NAMES) only when
    `_not_time` finds its values look like time. Returns it and notes on the weakly named
    columns not taken. `peek()`: the first PEEK_ROWS rows; `long_by_values(col)`: whether
    a text column names series beside `col` as the time column (`_series_candidates`)."""
    if spec.time is not None:
        if spec.time not in columns:
            raise DataError(f"{path}: time column {_col(spec.time)} of {setting('data.time')} "
                            f"not found; columns are {_cols(columns)}"
                            + _did_you_mean([spec.time], columns))
        return spec.time, []
    lower: dict[str, list[str]] = {}
    for c in columns:
        lower.setdefault(re.sub(r"[\s-]+", "_", c.strip().lower()), []).append(c)
    used = set(spec.features or ()) | set(spec.targets or ()) | {series_col}
    notes = []
    for name in TIME_NAMES:
        found = lower.get(name, [])
        if len(found) > 1:
            raise DataError(f"{path}: columns {_cols(found)} differ only in case, so the time "
                            f"column is ambiguous; rename one, or set {setting('data.time')}")
        if not found or found[0] in used:
            continue
        if name in WEAK_TIME_NAMES and peek is not None:
            why = _not_time(peek(), found[0], series_col, long_by_values)
            if why:
                option = shlex.quote(_clean(found[0]))
                notes.append(f"column {_col(found[0])} is not read as time: {why}; set "
                             f"data.time (--time-col {option}) if it is")
                continue
        return found[0], notes
    return None, notes


def _number(value) -> str:
    """A number as a message shows it: 1949, 0, 2.5."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _not_time(head: pd.DataFrame, col: str, series_col: str | None, long_by_values
              ) -> str | None:
    """Why a weakly named column (WEAK_TIME_NAMES) is not the time column, from its first
    PEEK_ROWS values; None when it looks like time: dates, or numbers that never repeat
    within a series (a wide file: strictly increasing, as a cycle is not; a long file: none
    repeating within a value of the series column, or of a text column `long_by_values`
    finds would name series beside it)."""
    values = head[col]
    present = values.dropna()
    if not _numeric(values.dtype):
        if _looks_like_dates(values):
            return None
        text = present.astype(str).str.strip()
        text = text[text != ""]
        if not len(text):
            return "it is empty in the first rows"
        no_digit = ~text.str.contains(r"\d").to_numpy()
        with warnings.catch_warnings():  # the first value that is no date, to show
            warnings.simplefilter("ignore")
            try:
                not_date = pd.to_datetime(text, errors="coerce", format="mixed").isna()
            except (ValueError, TypeError, OverflowError):  # no parse at all: show the
                not_date = pd.Series(False, index=text.index)  # first value without digits
        bad = no_digit | not_date.to_numpy()
        k = int(np.argmax(bad)) if bad.any() else 0
        return (f"its values are not dates or numbers ({_val(text.iloc[k])} on line "
                f"{_line(text.index[k])})")
    if not len(present):
        return "it is empty in the first rows"
    ids = None if series_col is None else head.loc[present.index, series_col].astype(str)
    keys = present if ids is None else pd.DataFrame({"id": ids, "t": present})
    repeats = keys.duplicated(keep=False).to_numpy()
    if not repeats.any():
        if ids is not None:
            return None
        down = np.flatnonzero(np.diff(present.to_numpy()) < 0)
        if not len(down):
            return None
        k = int(down[0]) + 1
        return (f"its values do not increase ({_number(present.iloc[k])} on line "
                f"{_line(present.index[k])} after {_number(present.iloc[k - 1])} on line "
                f"{_line(present.index[k - 1])})")
    if ids is None and long_by_values is not None and long_by_values(col):
        return None  # a long file without a series column of its own name: store, year, ...
    first = int(np.argmax(repeats))
    same = present.to_numpy() == present.iloc[first]
    if ids is not None:
        same &= (ids == ids.iloc[first]).to_numpy()
    second = int(np.flatnonzero(same)[1])
    within = "" if ids is None else f" within series {_col(ids.iloc[first])}"
    return (f"its values repeat{within} ({_number(present.iloc[first])} on lines "
            f"{_line(present.index[first])} and {_line(present.index[second])})")


@dataclass(frozen=True)
class Keys:
    """The time and series-id columns, and how each was found: "config", "name" (a
    conventional name), "values" (recognised from the data) or None (there is none)."""

    time: str | None
    series: str | None
    time_by: str | None = None
    series_by: str | None = None
    not_time: tuple[str, ...] = ()  # notes on columns named like time but not taken

    def notes(self, n_series: int) -> list[str]:
        """What was recognised from the values, for the user to confirm or override."""
        out = list(self.not_time)
        if self.series_by == "values":
            out.append(f"read as long format: series column {_col(self.series)} ({n_series} "
                       f"series), time column {_col(self.time)}; set "
                       f"{setting('data.series')} to choose")
        if self.time_by == "values":
            out.append(f"column {_col(self.time)} read as the time column (its values are "
                       f"dates); set {setting('data.time')} to choose")
        return out


def _peek(path: Path, header: list[str], series_col: str | None = None) -> pd.DataFrame:
    """The first PEEK_ROWS rows, typed as pandas reads them (the series ids as text)."""
    as_text = {header.index(series_col): str} if series_col is not None else None
    head = _read_csv(path, nrows=PEEK_ROWS, converters=as_text)
    head.columns = header
    return head


def _text_columns(head: pd.DataFrame, skip: set[str]) -> list[str]:
    """Columns that are text, not numbers (fewer than half their cells parse as numbers):
    those `_auto_features` leaves out."""
    out = []
    for c, dtype in zip(head.columns, head.dtypes, strict=True):
        if c in skip or _numeric(dtype) or head[c].isna().all():
            continue
        if pd.to_numeric(head[c], errors="coerce").notna().mean() < 0.5:
            out.append(c)
    return out


def _looks_like_dates(values: pd.Series) -> bool:
    """Whether the first DATE_ROWS non-empty values all parse as time stamps (as
    `_parse_time` parses them) and each has a digit."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""].iloc[:DATE_ROWS]
    if len(text) < min(3, len(values)) or not text.str.contains(r"\d").all():
        return False
    with warnings.catch_warnings():  # pandas warns when it falls back to dateutil
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(text, errors="coerce", utc=bool(ZONE.search(text.iloc[0])))
        except (ValueError, TypeError, OverflowError):
            return False
    return bool(parsed.notna().all())


def _series_candidates(path: Path, header: list[str], time_col: str, text: list[str]
                       ) -> list[str]:
    """Text columns that name series: in the first CHUNK_ROWS rows, each has several
    distinct values, each on several rows (the value of the last row read may be cut
    short), the time stamps repeat across the file but never within one value's rows."""
    cols = [time_col, *text]
    place = {c: j for j, c in enumerate(header)}
    sample = _read_csv(path, nrows=CHUNK_ROWS, usecols=sorted(place[c] for c in cols),
                       dtype=str, keep_default_na=False)
    sample.columns = [c for c in header if c in set(cols)]
    times = sample[time_col].str.strip()
    if len(sample) < 4 or not times.duplicated().any():
        return []  # one row per time stamp: one series
    cut = len(sample) == CHUNK_ROWS
    out = []
    for c in text:
        ids = sample[c].str.strip()
        if (ids == "").any():
            continue
        counts = ids.value_counts()
        if cut:
            counts = counts.drop(ids.iloc[-1])
        if len(counts) + cut < 2 or (counts < 2).any():
            continue
        if not pd.DataFrame({"id": ids, "t": times}).duplicated().any():
            out.append(c)
    return out


def recognise(header: list[str], spec: DataSpec, path) -> Keys:
    """The time column and the series-id column (None: none / wide format): from the config;
    else by name (TIME_NAMES, `unique_id`); else from the values of the first rows:

    * time: the one text column whose first DATE_ROWS values are dates;
    * series (only beside a time column): the one text column whose values repeat, the time
      stamps repeating across the file but not within a value's rows (a long file, e.g.
      `store,day,revenue`).

    A column named like a cycle as well as like time (`hour`, `day`, `year`: WEAK_TIME_NAMES)
    is the time column only when its first PEEK_ROWS values are dates or numbers that never
    repeat within a series (`_not_time`); else it is an ordinary column, with a note.
    Two columns that would both fit are an error asking to choose (data.time, data.series).
    """
    path = Path(path)
    series_col = spec.series
    if series_col is not None and series_col not in header:
        raise DataError(f"{path}: series column {_col(series_col)} of {setting('data.series')} "
                        f"not found; columns are {_cols(header)}"
                        + _did_you_mean([series_col], header))
    series_by = "config" if series_col is not None else None
    if series_col is None and SERIES_NAME in header and SERIES_NAME != spec.time:
        series_col, series_by = SERIES_NAME, "name"
    peeked: list[pd.DataFrame] = []
    found: dict[str, list[str]] = {}  # series candidates beside each time column tried

    def peek() -> pd.DataFrame:
        if not peeked:
            peeked.append(_peek(path, header, series_col))
        return peeked[0]

    def candidates(time_col: str) -> list[str]:
        if time_col not in found:
            head = peek()
            text = [c for c in _text_columns(head, {time_col})
                    if not _looks_like_dates(head[c])]
            found[time_col] = _series_candidates(path, header, time_col, text) if text else []
        return found[time_col]

    time_col, not_time = _pick_time_col(header, spec, path, series_col=series_col, peek=peek,
                                        long_by_values=candidates)
    time_by = None if time_col is None else "config" if spec.time is not None else "name"
    if time_col is not None and series_col is not None:
        return Keys(time_col, series_col, time_by, series_by, tuple(not_time))
    head = peek()
    text = _text_columns(head, {c for c in (time_col, series_col) if c})
    if time_col is None:
        dates = [c for c in text if _looks_like_dates(head[c])]
        if len(dates) > 1:
            raise DataError(f"{path}: columns {_cols(dates)} all hold dates, so the time column "
                            f"is ambiguous; set {setting('data.time')} to the time column")
        if dates:
            time_col, time_by = dates[0], "values"
    if series_col is None and time_col is not None:
        ids = candidates(time_col)
        if len(ids) > 1:
            raise DataError(f"{path}: columns {_cols(ids)} could each name the series of a long "
                            f"file (text repeating, one row per time stamp each); set "
                            f"{setting('data.series')} to the series column")
        if ids:
            series_col, series_by = ids[0], "values"
    return Keys(time_col, series_col, time_by, series_by, tuple(not_time))


def key_columns(header: list[str], spec: DataSpec, path) -> tuple[str | None, str | None]:
    """The time column and the series-id column (None: none / wide format); see
    `recognise`, which also tells how they were found."""
    keys = recognise(header, spec, path)
    return keys.time, keys.series
