"""CSV -> Frame: one canonical, typed view of the series in a file.

Two layouts are read:

* wide: an optional time column plus numeric columns, one series;
* long: a series-id column (`unique_id` by default), a time column (`ds`) and value
  columns, several series stacked (the `unique_id, ds, y` convention); under other names
  the two are recognised from the values (`recognise`: `store, day, revenue`).

Each series' frequency is inferred through gaps (timegrid.py); its missing time stamps
become rows of missing values for data.missing to refuse, fill or drop (`Gaps`).

Everything downstream sees a `Frame`: per series, a time index and a float64 array of
shape (rows, columns) whose columns are the features followed by any targets that are
not features. Problems are raised as `DataError` naming the file, column and line.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import re
import shlex
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli import timegrid
from lstmcli.config import DataSpec
from lstmcli.errors import DataError
from lstmcli.store import Series, SeriesStore

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
DEFAULT_SERIES_ID = "series_0"
INDEX_TIME_NAME = "t"  # name of the step counter when the file has no time column
CHUNK_ROWS = 250_000  # rows parsed at a time
MAX_ABS = 1e15  # larger values are refused: float32 training would lose them or overflow
SNIFF_BYTES = 64 << 10  # the delimiter is guessed from the header line within this many bytes
MAX_HEADER_BYTES = 4 << 20  # a longer first line is refused (a file with no line breaks)
SHOW = 80  # characters of a value or name quoted in a message
# Timestamps are nanoseconds in int64 (pandas' range); integer time steps stay within
# +-MAX_STEP, so that differences and `last + steps * step` cannot overflow int64 unseen.
TIME_MIN, TIME_MAX = pd.Timestamp.min, pd.Timestamp.max
TIME_RANGE = (f"{TIME_MIN.ceil('s'):%Y-%m-%d %H:%M:%S} .. {TIME_MAX.floor('s'):%Y-%m-%d %H:%M:%S}")
MAX_STEP = 2 ** 62


@dataclass(frozen=True)
class Frame:
    path: str
    store: SeriesStore  # every series' rows: (rows, len(columns)) float64 and time stamps
    features: list[str]
    targets: list[str]
    time_col: str | None  # None: rows are steps 0, 1, 2, ...
    series_col: str | None  # None: wide format, one series
    freq: str | int | None  # pandas alias, an integer step, or None if irregular
    notes: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)  # calendar columns, not in the file
    # data.future columns, stored one step ahead: row t holds the value of step t + 1 (the
    # step a window ending at t predicts); the last row repeats its own value until a
    # forecast fills in the first future step's
    ahead: list[str] = field(default_factory=list)

    # Computed once per frame (a frame is never changed in place: `replace` makes a new
    # one): a file may have 10,000 columns. Do not modify the lists they return.
    @cached_property
    def series(self) -> list[Series]:
        """Each series' view of the store: `id`, `ds` (a DatetimeIndex, or integer steps
        when the file has no time stamps), `values` (rows, columns)."""
        return self.store.series()

    @cached_property
    def columns(self) -> list[str]:
        features = set(self.features)
        return self.features + [t for t in self.targets if t not in features]

    @cached_property
    def column_index(self) -> dict[str, int]:
        """Each column's place in `columns` (and in each series' values)."""
        return {c: j for j, c in enumerate(self.columns)}

    @cached_property
    def feature_idx(self) -> list[int]:
        return [self.column_index[c] for c in self.features]

    @cached_property
    def target_idx(self) -> list[int]:
        return [self.column_index[c] for c in self.targets]

    @property
    def is_long(self) -> bool:
        return self.series_col is not None


def _line(row: int) -> int:
    """1-based line in the CSV file of a 0-based data row (the header is line 1). Lines end
    at \\n, \\r\\n or a lone \\r, as pandas reads them (blank lines are not counted)."""
    return int(row) + 2


# ------------------------------------------------------------------- names in messages


def _clean(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped (\\n, \\x00, ...):
    a message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(text: str) -> str:
    """`text` cut to SHOW characters, escaped as `_clean` does."""
    if len(text) <= SHOW:
        return _clean(text)
    return f"{_clean(text[:SHOW])}... ({len(text)} characters)"


def _col(name: object) -> str:
    """A column name (or series id) as a message quotes it: 'name', cut to SHOW characters."""
    text = str(name)
    if len(text) <= SHOW:
        return f"'{_clean(text)}'"
    return f"'{_clean(text[:SHOW])}...' ({len(text)} characters)"


def _val(value: object) -> str:
    """A cell's value as a message quotes it: its repr (line breaks escaped), cut to SHOW
    characters."""
    if isinstance(value, str) and len(value) > SHOW:
        return f"{value[:SHOW]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= SHOW else f"{text[:SHOW]}... ({len(text)} characters)"


def _cols(names, most: int = 20) -> str:
    """A list of column names as a message shows it: ['a', 'b'], at most `most` of them."""
    names = list(names)
    shown = ", ".join(_val(str(n)) for n in names[:most])
    more = f", ... ({len(names)} in all)" if len(names) > most else ""
    return f"[{shown}{more}]"


# A number written with a decimal comma ("1,5", "-0,25"), as many locales write them
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+\s*$")


def _did_you_mean(missing, columns) -> str:
    """'; did you mean 'sales'?' for names not among the columns that one of them matches
    apart from case, or closely (difflib); '' when none does."""
    columns = [str(c) for c in columns]
    lower = {c.lower(): c for c in columns}
    pairs = []
    for name in map(str, missing):
        close = ([lower[name.lower()]] if name.lower() in lower
                 else difflib.get_close_matches(name, columns, n=1))
        if close:
            pairs.append((name, close[0]))
    if not pairs:
        return ""
    if len(missing) == 1:
        return f"; did you mean {_col(pairs[0][1])}?"
    return "; did you mean " + ", ".join(f"{_col(c)} for {_col(n)}" for n, c in pairs) + "?"


# ---------------------------------------------------------------------- the raw file

def _breaks(block: bytes, after_cr: bool) -> int:
    """Line breaks (\\n, \\r\\n or a lone \\r) that end in `block`; `after_cr`: the block
    before ended with \\r (so a \\n first here ends no new line)."""
    n = block.count(b"\n")
    if b"\r" in block:
        n += block.count(b"\r") - block.count(b"\r\n")
        if block.endswith(b"\r"):
            n -= 1  # counted with the next block, which may begin with \n
    if after_cr and not block.startswith(b"\n"):
        n += 1  # the previous block's last \r was a line end of its own
    return n


def _first_line(path: Path, limit: int) -> tuple[bytes, bool]:
    """The first line's bytes (at most `limit`, without the line break) and whether it
    ended within them."""
    with path.open("rb") as fh:
        data = b""
        while len(data) < limit:
            block = fh.read(min(SNIFF_BYTES, limit - len(data)))
            if not block:
                return data, True
            start = len(data)
            data += block
            cut = min((i for i in (data.find(b"\n", start), data.find(b"\r", start))
                       if i >= 0), default=-1)
            if cut >= 0:
                return data[:cut], True
    return data, False


def _sniff_delimiter(path: Path) -> str:
    """The delimiter (, ; tab or |) of the header line, guessed from its first SNIFF_BYTES
    bytes at most; "," when there is no telling."""
    head, _ = _first_line(path, SNIFF_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _not_utf8(path: Path) -> DataError:
    """Where the first byte that is not UTF-8 is: line and byte value."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, after_cr = 1, False
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = max(exc.start - pending, 0)
                before = block[:at]
                line = lines + _breaks(before, after_cr) + before.endswith(b"\r")
                return DataError(f"{path}: line {line}: byte 0x{block[at]:02x} is not UTF-8 "
                                 "text; save the file as UTF-8")
            lines, after_cr = lines + _breaks(block, after_cr), block.endswith(b"\r")
    return DataError(f"{path}: not UTF-8 text; save the file as UTF-8")


def _parse_error(path: Path, exc: Exception) -> DataError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(first) > 4 * SHOW:
        first = f"{first[:4 * SHOW]}..."
    return DataError(f"{path}: cannot parse as CSV ({_clean(first)})")


def _read_csv(path: Path, **kw):
    try:
        return pd.read_csv(path, sep=_sniff_delimiter(path), encoding="utf-8-sig",
                           skipinitialspace=True, **kw)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows") from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise _parse_error(path, exc) from None


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV, checked for duplicates (which pandas would silently
    rename to `y.1`, ...). A first line longer than MAX_HEADER_BYTES is refused."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    head, ended = _first_line(path, MAX_HEADER_BYTES)
    if not ended:
        raise DataError(f"{path}: line 1 (the header) is longer than "
                        f"{MAX_HEADER_BYTES >> 20} MiB without a line break; is this a CSV "
                        "file? Lines must end with \\n, \\r\\n or \\r")
    # The header row as written (pandas' own header would rename a second `y` to `y.1`):
    # a plain line is split here (with 10,000 columns, pandas takes a second); one with
    # quotes, a blank one (pandas skips it) or one that is not UTF-8 is read by pandas.
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        line = ""
    if line.strip() and '"' not in line:
        raw = [c.strip() for c in line.split(_sniff_delimiter(path))]
    else:
        first = _read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
        if not len(first):
            raise DataError(f"{path}: the file is empty; expected a header row and data rows")
        raw = [str(c).strip() for c in first.iloc[0]]
    dupes = sorted(c for c, n in Counter(raw).items() if n > 1)
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) {_cols(dupes)}")
    return [c or f"Unnamed: {j}" for j, c in enumerate(raw)]  # pandas' names for blank ones


def _chunks(path: Path, **kw):
    """The CSV in chunks of CHUNK_ROWS rows; a parse error in any chunk is a DataError."""
    reader = _read_csv(path, chunksize=CHUNK_ROWS, **kw)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise _parse_error(path, exc) from None


def _count_lines(path: Path) -> int:
    """An upper bound on the data rows: the number of line breaks (\\n, \\r\\n or a lone
    \\r, as pandas splits lines), plus one."""
    n, after_cr = 1, False
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            n += _breaks(block, after_cr)
            after_cr = block.endswith(b"\r")
    return n + after_cr


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


ZONE = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def _mixed_zones(path, row, name: str, value: str) -> DataError:
    return DataError(f"{path}: line {_line(row)}: column {_col(name)} mixes timestamps with and "
                     f"without a time zone ({_val(value)}); give every timestamp an offset, "
                     "or none")


INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def _steps(col: pd.Series, name: str, path: Path) -> pd.Series:
    """Integer time steps as int64, each within +-MAX_STEP (else a DataError naming it)."""
    far = None
    if pd.api.types.is_integer_dtype(col):
        values = col.to_numpy()
        if values.dtype.kind == "u":  # read as uint64: some are >= 2**63
            far = np.flatnonzero(values >= np.uint64(MAX_STEP))
        else:
            far = np.flatnonzero((values >= MAX_STEP) | (values <= -MAX_STEP))
    else:  # whole numbers beyond uint64, which pandas leaves as text (int() of more than
        # 4300 digits raises: longer ones are far enough already)
        far = np.flatnonzero([len(v.strip().lstrip("+-").lstrip("0")) > 19
                              or abs(int(v)) >= MAX_STEP for v in col.astype(str)])
    if len(far):
        pos = int(far[0])
        raise DataError(f"{path}: line {_line(col.index[pos])}: time step "
                        f"{_short(str(col.iloc[pos]).strip())} in column {_col(name)} is "
                        f"beyond ±{MAX_STEP} (2**62): steps counted on from it could overflow "
                        "64-bit integers; renumber the steps (e.g. from 0)")
    return col.astype("int64")


def _parse_time(col: pd.Series, name: str, path: Path) -> pd.Series:
    """The time column as int64 steps (a column of whole numbers) or datetime64[ns]
    timestamps (time zones converted to UTC); a DataError names the first bad line."""
    if col.isna().any():
        row = int(col.index[np.flatnonzero(col.isna().to_numpy())[0]])
        raise DataError(f"{path}: line {_line(row)}: empty timestamp in column {_col(name)}")
    if pd.api.types.is_integer_dtype(col):
        return _steps(col, name, path)  # plain step numbers (e.g. a year or an index)
    text = col.astype(str)
    if INTEGER.fullmatch(text.iloc[0]) and text.str.fullmatch(INTEGER.pattern).all():
        # whole numbers that pandas left as text: too large for int64
        return _steps(col, name, path)
    # Time zones: when the first stamp has one, every stamp must (offsets may differ, e.g.
    # across a daylight-saving change: all go to UTC). Checked only then: it is slow.
    zoned = bool(ZONE.search(text.iloc[0]))
    if zoned:
        has = text.str.contains(ZONE.pattern, regex=True).to_numpy()
        if not has.all():
            pos = int(np.flatnonzero(~has)[0])
            raise _mixed_zones(path, col.index[pos], name, text.iloc[pos])
    with warnings.catch_warnings():  # pandas warns when it falls back to dateutil
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        parsed = pd.to_datetime(text, errors="coerce", utc=zoned)
    if parsed.dtype == object:  # zones appear later in the column
        pos = int(np.flatnonzero([ZONE.search(v) is not None for v in text])[0])
        raise _mixed_zones(path, col.index[pos], name, text.iloc[pos])
    bad = parsed.isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        if ZONE.search(text.iloc[pos]):
            raise _mixed_zones(path, col.index[pos], name, text.iloc[pos])
        raise DataError(f"{path}: line {_line(col.index[pos])}: cannot parse timestamp "
                        f"{_val(col.iloc[pos])} in column {_col(name)} (mixed or unknown date "
                        "format?)")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    # pandas reads dates beyond nanosecond int64 at a coarser unit; converted to ns (as
    # every stamp downstream is) they would wrap around silently: refuse them here
    far = ((parsed < TIME_MIN) | (parsed > TIME_MAX)).to_numpy()
    if far.any():
        pos = int(np.flatnonzero(far)[0])
        raise DataError(f"{path}: line {_line(col.index[pos])}: timestamp {_val(col.iloc[pos])}"
                        f" in column {_col(name)} is outside the supported range {TIME_RANGE} "
                        "(nanosecond timestamps); use dates in that range, or step numbers")
    return parsed.dt.as_unit("ns")


def _numeric_column(df: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    raw = df[name]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column {_col(name)} has a "
                        f"non-numeric value {_val(raw.iloc[pos])}")
    out = values.to_numpy(dtype="float64")
    inf = np.isinf(out)
    if inf.any():
        pos = int(np.flatnonzero(inf)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column {_col(name)} has an "
                        "infinite value")
    huge = np.abs(out) > MAX_ABS
    if huge.any():  # the model computes in float32 (max ~3.4e38) and pads with -1e30
        pos = int(np.flatnonzero(huge)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column {_col(name)} has the value "
                        f"{out[pos]:g}, beyond ±{MAX_ABS:g}; rescale the column (e.g. to "
                        "other units) first")
    return out


def _numeric(dtype) -> bool:
    return dtype.kind in "iuf"  # not bool, text or anything else


def _numeric_columns(df: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """(rows, len(columns)) float64: `_numeric_column` of each column, with the same first
    error, but columns that pandas read as numbers are converted and checked together (a
    file may have 10,000 columns)."""
    place = {c: j for j, c in enumerate(df.columns)}
    dtypes = dict(zip(df.columns, df.dtypes, strict=True))
    fast = [j for j, c in enumerate(columns) if _numeric(dtypes[c])]
    out = np.empty((len(df), len(columns)), dtype="float64")
    first_bad = len(columns)
    if fast:
        block = df.iloc[:, [place[columns[j]] for j in fast]].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            bad = (np.abs(block) > MAX_ABS).any(axis=0)  # infinite or huge (NaN: missing)
        if bad.any():
            first_bad = fast[int(np.flatnonzero(bad)[0])]
        out[:, fast] = block
    for j, c in enumerate(columns):  # text columns, in order, up to the first bad number
        if j >= first_bad:
            break
        if not _numeric(dtypes[c]):
            out[:, j] = _numeric_column(df, c, path)
    if first_bad < len(columns):
        _numeric_column(df, columns[first_bad], path)  # raises, naming the cell
    return out


def _auto_features(df: pd.DataFrame, skip: set[str], notes: list[str]) -> list[str]:
    """Numeric columns, plus columns that are mostly numeric (so a stray bad cell is reported
    instead of the column vanishing silently)."""
    out = []
    for c, dtype in zip(df.columns, df.dtypes, strict=True):
        if c in skip:
            continue
        if _numeric(dtype):
            out.append(c)
            continue
        parsed = pd.to_numeric(df[c], errors="coerce")
        if parsed.notna().mean() >= 0.5:
            out.append(c)  # _numeric_column will name the bad cell
        else:
            notes.append(f"column {_col(c)} is not numeric and is not used")
    return out


def _choose_columns(chunk: pd.DataFrame, spec: DataSpec, skip: set[str], path: Path,
                    notes: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Features, targets, and all value columns (features first), from the config or the
    first chunk's numeric columns."""
    features = list(spec.features) if spec.features else _auto_features(chunk, skip, notes)
    if not features:
        text = [c for c in chunk.columns if c not in skip]
        example = ""
        if text:
            cell = str(chunk[text[0]].iloc[0])
            fix = ("write numbers with a decimal point (1.5, not 1,5) and no thousands "
                   "separators" if DECIMAL_COMMA.match(cell) else
                   "write plain numbers, without units or thousands separators")
            example = f" (column {_col(text[0])} holds text such as {_val(cell)}: {fix})"
        raise DataError(f"{path}: no numeric columns to use as features; columns are "
                        f"{_cols(chunk.columns)}{example}")
    targets = list(spec.targets) if spec.targets else list(features)
    in_features = set(features)
    columns = features + [t for t in targets if t not in in_features]
    have = set(chunk.columns)
    missing_cols = [c for c in columns if c not in have]
    if missing_cols:
        raise DataError(f"{path}: column(s) {_cols(missing_cols)} not found (needed as "
                        f"features/targets); columns are {_cols(chunk.columns)}"
                        + _did_you_mean(missing_cols, chunk.columns))
    clash = [c for c in columns if c in skip]
    if clash:
        raise DataError(f"{path}: column(s) {_cols(clash)} are the time/series column and cannot "
                        "also be features or targets")
    return features, targets, columns


def _fill_missing(values: np.ndarray, policy: str) -> np.ndarray:
    df = pd.DataFrame(values)
    if policy == "interpolate":
        df = df.interpolate(method="linear", limit_direction="both")
    elif policy == "ffill":
        df = df.ffill().bfill()
    return df.to_numpy(dtype="float64")


def _kind(ds: pd.Index) -> str:
    """"M" for time stamps, "i" for step numbers."""
    return "M" if isinstance(ds, pd.DatetimeIndex) else "i"


def _ints(ds: pd.Index) -> np.ndarray:
    """A time index as int64: nanoseconds for stamps (read_series keeps them in ns)."""
    return ds.as_unit("ns").asi8 if isinstance(ds, pd.DatetimeIndex) else \
        ds.to_numpy(dtype="int64")


def _infer_freq(ds: pd.Index) -> str | int | None:
    """The frequency of a sorted time index without duplicates, from its first
    timegrid.HEAD stamps, robust to gaps (see timegrid); None if too short or irregular."""
    return timegrid.infer(_ints(ds[:timegrid.HEAD]), _kind(ds))


# Command-line options that set a data key, named in messages that tell how to set it.
FLAGS = {"data.time": "--time-col", "data.series": "--id-col", "data.targets": "--target",
         "data.freq": "--freq", "data.missing": "--missing"}


def setting(key: str) -> str:
    """A data key as a message tells how to set it: 'data.freq (--freq)'."""
    return f"{key} ({FLAGS[key]})" if key in FLAGS else key


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


def _stamp_text(stamp) -> str:
    """A time stamp as a message shows it: the date alone at midnight."""
    if isinstance(stamp, pd.Timestamp):
        return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else str(stamp)
    return str(stamp)


def given_freq(freq: str | None, kind: str, path) -> str | int | None:
    """data.freq checked against the time column: a pandas alias for time stamps, a whole
    number of steps for step numbers; None when unset."""
    if freq is None:
        return None
    out = timegrid.given(freq, kind)
    if out is None:
        what = ("a whole number of steps (the time column holds step numbers)" if kind == "i"
                else "a pandas frequency alias such as D, h, 15min, W-SUN, MS, QS, YS")
        raise DataError(f"{path}: data.freq {_val(freq)} is not {what}; set "
                        f"{setting('data.freq')} to one")
    return out


def off_grid(path, line: int, stamp, before, freq, label: str) -> DataError:
    """A stamp that is no whole number of data.freq steps after the one before it (before
    None: the first stamp, not on an anchored frequency's grid)."""
    what = (f"is not a {_val(freq)} time stamp" if before is None else
            f"is not a whole number of {_val(freq)} steps after {_stamp_text(before)}")
    return DataError(f"{path}: line {line}: timestamp {_stamp_text(stamp)} in {label} {what} "
                     f"(data.freq); set {setting('data.freq')} to the frequency of the time "
                     "stamps, or leave it unset to infer it")


def _several_series_hint(series_col: str | None, keys: Keys) -> str:
    if series_col is not None:
        return ""
    return (f"; if the file holds several series, set {setting('data.series')} to the column "
            "naming them" + (f", or {setting('data.time')} if {_col(keys.time)} is not the "
                             "time column" if keys.time_by == "name" else ""))


@dataclass
class Gaps:
    """Missing time stamps found in the series of a file: counts, and the first gap (by
    line) to point at."""

    stamps: int = 0
    gaps: int = 0
    series: int = 0
    freq: str | int | None = None
    first: tuple | None = None  # (line before the gap, label, first missing stamp)

    def add(self, grid: np.ndarray, ds: pd.Index, *, freq, label: str, path, line) -> int:
        """Count a series' missing stamps from its stamps' places on the grid (0 first);
        `line(k)` is the line of its k-th row. Returns how many are missing."""
        steps = np.diff(grid)
        holes = np.flatnonzero(steps > 1)
        if not len(holes):
            return 0
        k = int(holes[0])
        nxt = timegrid.stamps(int(_ints(ds[k:k + 1])[0]), 2, freq, _kind(ds))[1]
        stamp = pd.Timestamp(int(nxt), unit="ns") if _kind(ds) == "M" else int(nxt)
        missing = int(grid[-1]) + 1 - len(grid)
        self.count(missing=missing, holes=len(holes), rows=len(grid), line=line(k),
                   stamp=stamp, freq=freq, label=label, path=path)
        return missing

    def count(self, *, missing: int, holes: int, rows: int, line: int, stamp, freq,
              label: str, path) -> None:
        """Count `missing` stamps in `holes` gaps of a series of `rows` rows, the first
        after line `line` (its first missing stamp `stamp`)."""
        if timegrid.too_many(missing, rows):
            raise DataError(f"{path}: {label}: {missing} time stamps of {_val(freq)} would be "
                            f"missing between its {rows} rows (the first after line {line}), "
                            f"more than {timegrid.MISSING_PER_ROW} per row: {_val(freq)} cannot "
                            f"be its frequency; check the time column, or set "
                            f"{setting('data.freq')}")
        self.stamps += missing
        self.gaps += holes
        self.series += 1
        self.freq = freq
        if self.first is None or line < self.first[0]:
            self.first = (line, label, stamp)

    def message(self, path=None) -> str:
        """'data.csv: 5 missing time stamps in 1 gap at frequency 'D' (first: 2023-03-04,
        after line 120)' (without `path`, the text after 'data.csv: ')."""
        line, label, stamp = self.first
        where = f" in {self.series} series" if self.series > 1 else ""
        of = f" of {label}" if label != "the series" else ""
        return (f"{path}: " * (path is not None) +
                f"{self.stamps} missing time stamp{'s' * (self.stamps > 1)} in "
                f"{self.gaps} gap{'s' * (self.gaps > 1)}{where} at frequency {_val(self.freq)} "
                f"(first: {_stamp_text(stamp)}, after line {line}{of})")

    def note(self, policy: str) -> str:
        """The message, and what data.missing did with them (not 'error': that refuses)."""
        if policy == "drop":
            return (f"{self.message()}; left out by data.missing: drop (windows run across "
                    "the gaps)")
        return f"{self.message()}; filled as rows by data.missing: {policy}"


def read_series(path: str | Path, spec: DataSpec, *, fallback_freq: str | int | None = None,
                store_dir: Path | None = None) -> Frame:
    """Read a CSV into a Frame according to the `data:` section of the config.

    `fallback_freq` (the frequency a model was trained on) is used when the file is too
    short or irregular for the frequency to be inferred. `store_dir`: keep the series
    store in files there (data.stream) instead of in memory; the same code reads both.
    """
    from lstmcli.staging import Staging, remove

    path = Path(path)
    header = read_header(path)
    notes: list[str] = []
    keys = recognise(header, spec, path)
    time_col, series_col = keys.time, keys.series
    skip = {c for c in (time_col, series_col) if c}
    features = targets = columns = staging = None
    id_codes: dict[str, int] = {}
    n_max, pos = (_count_lines(path) if store_dir is None else None), 0
    # Chunk by chunk into the staging rows (pre-sized arrays, or files): millions of
    # timestamp strings never exist at once and no concatenated copy is made.
    # series ids stay text as written: "007" and "7" are two series
    as_text = {header.index(series_col): str} if series_col is not None else None
    try:
        for chunk in _chunks(path, converters=as_text):
            chunk.columns = header
            if chunk.empty:
                continue
            if columns is None:
                features, targets, columns = _choose_columns(chunk, spec, skip, path, notes)
                staging = Staging(len(columns), n_max=n_max, directory=None if store_dir
                                  is None else store_dir / "staging")
            values = _numeric_columns(chunk, columns, path)
            t = codes = None
            if time_col is not None:
                t = _parse_time(chunk[time_col], time_col, path).to_numpy()  # int64 or ns
                if staging.times_kind is not None and t.dtype.kind != staging.times_kind:
                    raise DataError(f"{path}: line {_line(pos)}: column {_col(time_col)} mixes "
                                    "step numbers and dates")
            if series_col is not None:
                ids = chunk[series_col]
                missing = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
                if missing.any():
                    raise DataError(f"{path}: line {_line(pos + int(missing.argmax()))}: empty "
                                    f"series id in column {_col(series_col)}")
                local, names = pd.factorize(ids.astype(str))  # in order of appearance
                codes = np.array([id_codes.setdefault(str(name), len(id_codes))
                                  for name in names], dtype="int64")[local]
            staging.add(values, t, codes)
            pos += len(chunk)
        if pos == 0:
            raise DataError(f"{path}: the file has a header but no data rows")
        staging.finish()
        frame = _frame(path, spec, staging, keys, id_codes, columns, notes, fallback_freq,
                       features=features, targets=targets, store_dir=store_dir)
    finally:
        if staging is not None:
            staging.close()
        if store_dir is not None:
            remove(store_dir / "staging")
    if spec.future:
        frame = with_future(frame, spec.future)
    return with_calendar(frame, spec.calendar) if spec.calendar else frame


def _sorted_rows(staging, c: int, kind: str) -> tuple[pd.Index, np.ndarray, np.ndarray, bool]:
    """Series code c's (time index, values, file rows), in time order; and whether the
    file had them out of order."""
    vals, t, rows = staging.rows_of(c)
    if t is None:
        return pd.Index(np.arange(len(vals), dtype="int64")), vals, rows, False
    ds = pd.DatetimeIndex(t.view("datetime64[ns]")) if kind == "M" else pd.Index(t)
    if ds.is_monotonic_increasing:
        return ds, vals, rows, False
    order = np.argsort(t, kind="stable")
    return ds[order], vals[order], rows[order], True


def _grid(ds: pd.Index, freq, kind: str) -> np.ndarray:
    """Each stamp's place on the grid of `freq` from the first (0); negative: off the grid."""
    at = _ints(ds)
    return np.concatenate([[0], timegrid.places(int(at[0]), at[1:], freq, kind)])


def _frame(path: Path, spec: DataSpec, staging, keys: Keys, id_codes: dict, columns: list,
           notes: list[str], fallback_freq, *, features, targets, store_dir) -> Frame:
    """The staged rows, series by series: time order, frequency, gaps and missing values
    checked (a first pass keeping a few numbers per series), then handled while each
    series is written to the store (a second)."""
    from lstmcli.store import StoreWriter

    time_col, series_col = keys.time, keys.series
    groups = list(id_codes.items()) if series_col is not None else [(DEFAULT_SERIES_ID, 0)]
    kind = "M" if staging.times_kind == "M" else "i"
    has_times = time_col is not None
    given = given_freq(spec.freq, kind, path) if has_times else spec.freq
    read: list[list] = []  # [id, code, label, whether it has gaps, the grid's frequency]
    freqs: dict[str, str | int | None] = {}
    gaps = Gaps()
    for sid, c in groups:
        label = f"series {_col(sid)}" if series_col else "the series"
        ds, vals, rows, unsorted = _sorted_rows(staging, c, kind)
        if unsorted:
            notes.append(f"{label}: rows were not in time order; sorted by {_col(time_col)}")
        gap = False
        if has_times:
            same = np.flatnonzero(ds[1:] == ds[:-1])  # sorted: duplicates are neighbours
            if len(same):
                k = int(same[0]) + 1
                raise DataError(f"{path}: line {_line(rows[k])}: duplicate timestamp {ds[k]} in "
                                f"{label}" + _several_series_hint(series_col, keys))
            # the frequency of this series (data.freq, else inferred) and its stamps'
            # places on that grid: a step of several places is a gap of missing stamps
            freq = given if given is not None else _infer_freq(ds)
            if freq is not None and len(ds) > 1:
                grid = _grid(ds, freq, kind)
                if (grid < 0).any():
                    k = int(np.argmax(grid < 0))
                    if given is not None:
                        k *= timegrid.on_offset(int(_ints(ds)[0]), freq, kind)  # else the first
                        raise off_grid(path, _line(rows[k]), ds[k], ds[k - 1] if k else None,
                                       freq, label)
                    freq = None  # irregular past the first stamps
                else:
                    gap = bool(gaps.add(grid, ds, freq=freq, label=label, path=path,
                                        line=lambda k, r=rows: _line(r[k])))
        else:
            freq = _infer_freq(ds)
        freqs[sid] = freq
        nan_rows = np.isnan(vals).any(axis=1)
        if nan_rows.any() and spec.missing == "error":
            first = int(np.flatnonzero(nan_rows)[0])
            col = _col(columns[int(np.flatnonzero(np.isnan(vals[first]))[0])])
            count = int(np.isnan(vals).sum())
            raise DataError(f"{path}: line {_line(rows[first])}: missing value in column "
                            f"{col} ({count} missing in {label}); set {setting('data.missing')}"
                            " to interpolate, ffill or drop")
        read.append([sid, c, label, gap, freq,
                     (ds, rows) if has_times and freq is None and 1 < len(ds) <= timegrid.HEAD
                     else None])
    agreed = {f for f in freqs.values() if f is not None}
    if has_times and given is None and len(agreed) == 1:
        # a series too short to show its own frequency is placed on the one the others
        # agree on (its first timegrid.HEAD stamps are all there is)
        common = next(iter(agreed))
        for entry in read:
            if entry[5] is None:
                continue
            ds, rows = entry[5]
            grid = _grid(ds, common, kind)
            if (grid >= 0).all() and gaps.add(grid, ds, freq=common, label=entry[2], path=path,
                                              line=lambda k, r=rows: _line(r[k])):
                entry[3:5] = [True, common]
    if gaps.stamps and spec.missing == "error":
        raise DataError(gaps.message(path) + f"; set {setting('data.missing')} to "
                        "interpolate or ffill (to fill them as rows) or drop (to leave "
                        f"them out), or {setting('data.freq')} if "
                        f"{_val(gaps.freq)} is not the frequency")

    writer = StoreWriter(len(columns), store_dir)
    for sid, c, label, gap, grid_freq, _ in read:
        ds, vals, _, _ = _sorted_rows(staging, c, kind)
        count = int(np.isnan(vals).sum())  # missing cells in the file
        if gap:  # the missing stamps become rows of missing values
            grid = _grid(ds, grid_freq, kind)
            full = np.full((int(grid[-1]) + 1, vals.shape[1]), np.nan)
            full[grid] = vals
            at = timegrid.stamps(int(_ints(ds)[0]), len(full), grid_freq, kind)
            ds = pd.DatetimeIndex(at.view("datetime64[ns]")) if kind == "M" else pd.Index(at)
            vals = full
        nan_rows = np.isnan(vals).any(axis=1)
        if nan_rows.any():
            if spec.missing == "drop":
                ds, vals = ds[~nan_rows], vals[~nan_rows]
            else:
                vals = _fill_missing(vals, spec.missing)
                if np.isnan(vals).any():
                    bad = columns[int(np.flatnonzero(np.isnan(vals).any(axis=0))[0])]
                    raise DataError(f"{path}: {label}: column {_col(bad)} has no values at all")
            if count:
                notes.append(f"{label}: {count} missing value(s) handled by '{spec.missing}'")
        writer.add(str(sid), ds, vals)
    if gaps.stamps:
        notes.append(gaps.note(spec.missing))
    notes[:0] = keys.notes(len(read))

    freq = choose_freq(given, list(freqs.values()), time_col=time_col,
                       fallback=fallback_freq, path=path, notes=notes)
    return Frame(path=str(path), store=writer.finish(), features=features, targets=targets,
                 time_col=time_col, series_col=series_col, freq=freq, notes=notes)


def with_future(frame: Frame, columns: list[str]) -> Frame:
    """Covariates known ahead, aligned with the step being predicted (see Frame.ahead)."""
    from lstmcli.store import mapped

    wrong = [c for c in columns if c not in frame.features or c in frame.targets]
    if wrong:
        raise DataError(f"{frame.path}: data.future {_cols(wrong)} must be input columns "
                        "(data.features) that are not targets")
    k = [frame.column_index[c] for c in columns]

    def ahead(s) -> np.ndarray:
        values = np.array(s.values)
        values[:-1, k] = values[1:, k]
        return values

    return replace(frame, store=mapped(frame.store, ahead, len(frame.columns)),
                   ahead=list(columns))


def choose_freq(given: str | int | None, found: list, *, time_col: str | None, fallback,
                path, notes: list[str]) -> str | int | None:
    """The frame's frequency: data.freq, else the one all series agree on (an integer step
    of 1 without a time column), else the run's (`fallback`), else None with a note."""
    if given is not None:
        return given
    agreed = {f for f in found if f is not None}
    if len(agreed) > 1:
        raise DataError(f"{path}: series have different frequencies {sorted(map(str, agreed))};"
                        f" set {setting('data.freq')}")
    if agreed:
        return agreed.pop()
    if time_col is None:
        return 1
    if fallback is None:
        notes.append("could not infer the time frequency (irregular or too few "
                     f"timestamps); set {setting('data.freq')} to forecast future timestamps")
    return fallback


def with_calendar(frame: Frame, names: list[str]) -> Frame:
    """The frame with calendar feature columns (see calendar.py) after the other features."""
    from lstmcli import calendar
    from lstmcli.store import mapped

    if frame.store.kind != "M" or frame.time_col is None:
        raise DataError(f"{frame.path}: data.calendar needs timestamps, but the time column "
                        f"{frame.time_col!r} holds step numbers (or there is none)")
    added = calendar.column_names(names)
    clash = [c for c in added if c in frame.column_index]
    if clash:
        raise DataError(f"{frame.path}: column(s) {_cols(clash)} exist already; data.calendar "
                        "would add them; rename them in the file")
    k = len(frame.features)

    def with_columns(s) -> np.ndarray:
        v = s.values
        return np.concatenate([v[:, :k], calendar.features(s.ds, names), v[:, k:]], axis=1)

    store = mapped(frame.store, with_columns, len(frame.columns) + len(added))
    return replace(frame, store=store, features=frame.features + added, derived=added)


def future_index(last: object, freq: str | int, steps: int) -> pd.Index:
    """The `steps` timestamps after `last`, continuing `freq`: integer steps within
    +-MAX_STEP, or datetime64[ns] stamps within TIME_MIN..TIME_MAX (else a DataError: they
    would wrap around)."""
    if isinstance(freq, int):
        end = int(last) + freq * int(steps)  # Python ints: no overflow here
        if abs(end) >= MAX_STEP:
            raise DataError(f"cannot number {steps} forecast step(s) after step {int(last)} "
                            f"(every {freq}): step {end} would be beyond ±{MAX_STEP} (2**62) "
                            "and could overflow 64-bit integers; renumber the time column "
                            "(e.g. from 0), or forecast fewer steps")
        return pd.Index(int(last) + freq * np.arange(1, steps + 1, dtype="int64"))
    try:
        stamps = pd.date_range(start=last, periods=steps + 1, freq=freq)[1:]
        return stamps.as_unit("ns")
    except pd.errors.OutOfBoundsDatetime:
        raise DataError(f"cannot stamp {steps} forecast step(s) of {freq!r} after {last}: they "
                        f"would run past {TIME_MAX:%Y-%m-%d %H:%M:%S}, the last supported "
                        f"timestamp (range {TIME_RANGE}); forecast fewer steps, or use step "
                        "numbers") from None
    except ValueError as exc:
        raise DataError(f"invalid frequency {freq!r} (data.freq): {exc}") from None
