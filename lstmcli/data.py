"""CSV -> Frame: one canonical, typed view of the series in a file.

Two layouts are read:

* wide: an optional time column plus numeric columns, one series;
* long: a series-id column (`unique_id` by default), a time column (`ds`) and value
  columns, several series stacked (the `unique_id, ds, y` convention).

Everything downstream sees a `Frame`: per series, a time index and a float64 array of
shape (rows, columns) whose columns are the features followed by any targets that are
not features. Problems are raised as `DataError` naming the file, column and line.
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import DataSpec
from lstmcli.errors import DataError

TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime", "month", "period")
SERIES_NAME = "unique_id"
DEFAULT_SERIES_ID = "series_0"
INDEX_TIME_NAME = "t"  # name of the step counter when the file has no time column
CHUNK_ROWS = 250_000  # rows parsed at a time
MAX_ABS = 1e15  # larger values are refused: float32 training would lose them or overflow


@dataclass(frozen=True)
class Series:
    id: str
    ds: pd.Index  # DatetimeIndex, or integer steps when the file has no timestamps
    values: np.ndarray  # (rows, len(Frame.columns)) float64


@dataclass(frozen=True)
class Frame:
    path: str
    series: list[Series]
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

    @property
    def columns(self) -> list[str]:
        return self.features + [t for t in self.targets if t not in self.features]

    @property
    def feature_idx(self) -> list[int]:
        return [self.columns.index(c) for c in self.features]

    @property
    def target_idx(self) -> list[int]:
        return [self.columns.index(c) for c in self.targets]

    @property
    def is_long(self) -> bool:
        return self.series_col is not None


def _line(row: int) -> int:
    """1-based line in the CSV file of a 0-based data row (the header is line 1)."""
    return int(row) + 2


def _sniff_delimiter(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = fh.readline()
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


NEWLINE = b"\n"


def _not_utf8(path: Path) -> DataError:
    """Where the first byte that is not UTF-8 is: line and byte value."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = max(exc.start - pending, 0)
                line = lines + block[:at].count(NEWLINE)
                return DataError(f"{path}: line {line}: byte 0x{block[at]:02x} is not UTF-8 "
                                 "text; save the file as UTF-8")
            offset, lines = offset + len(block), lines + block.count(NEWLINE)
    return DataError(f"{path}: not UTF-8 text; save the file as UTF-8")


def _read_csv(path: Path, **kw):
    try:
        return pd.read_csv(path, sep=_sniff_delimiter(path), encoding="utf-8-sig",
                           skipinitialspace=True, **kw)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows") from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(f"{path}: cannot parse as CSV ({first})") from None


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV, checked for duplicates (which pandas would silently
    rename to `y.1`, ...)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    columns = [str(c).strip() for c in _read_csv(path, nrows=0).columns]
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        raw = next(csv.reader(fh, delimiter=_sniff_delimiter(path)), [])
    raw = [c.strip() for c in raw]
    dupes = sorted({c for c in raw if raw.count(c) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) {dupes}")
    return columns


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
            first = str(exc).strip().splitlines()[0]
            raise DataError(f"{path}: cannot parse as CSV ({first})") from None


def _count_lines(path: Path) -> int:
    """An upper bound on the data rows: the number of line breaks, plus one."""
    n = 1
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            n += block.count(b"\n")
    return n


def _pick_time_col(columns: list[str], spec: DataSpec, path: Path) -> str | None:
    if spec.time is not None:
        if spec.time not in columns:
            raise DataError(f"{path}: time column '{spec.time}' (data.time) not found; "
                            f"columns are {columns}")
        return spec.time
    for name in TIME_NAMES:
        found = [c for c in columns if c.lower() == name]
        if len(found) > 1:
            raise DataError(f"{path}: columns {found} differ only in case, so the time column is "
                            "ambiguous; rename one, or set data.time")
        if found:
            return found[0]
    return None


ZONE = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def _mixed_zones(path, row, name: str, value: str) -> DataError:
    return DataError(f"{path}: line {_line(row)}: column '{name}' mixes timestamps with and "
                     f"without a time zone ({value!r}); give every timestamp an offset, or none")


def _parse_time(col: pd.Series, name: str, path: Path) -> pd.Series:
    if col.isna().any():
        row = int(col.index[np.flatnonzero(col.isna().to_numpy())[0]])
        raise DataError(f"{path}: line {_line(row)}: empty timestamp in column '{name}'")
    if pd.api.types.is_integer_dtype(col):
        return col.astype("int64")  # plain step numbers (e.g. a year or an index)
    text = col.astype(str)
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
                        f"{col.iloc[pos]!r} in column '{name}' (mixed or unknown date format?)")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _numeric_column(df: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    raw = df[name]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column '{name}' has a "
                        f"non-numeric value {raw.iloc[pos]!r}")
    out = values.to_numpy(dtype="float64")
    inf = np.isinf(out)
    if inf.any():
        pos = int(np.flatnonzero(inf)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column '{name}' has an "
                        "infinite value")
    huge = np.abs(out) > MAX_ABS
    if huge.any():  # the model computes in float32 (max ~3.4e38) and pads with -1e30
        pos = int(np.flatnonzero(huge)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column '{name}' has the value "
                        f"{out[pos]:g}, beyond ±{MAX_ABS:g}; rescale the column (e.g. to "
                        "other units) first")
    return out


def _auto_features(df: pd.DataFrame, skip: set[str], notes: list[str]) -> list[str]:
    """Numeric columns, plus columns that are mostly numeric (so a stray bad cell is reported
    instead of the column vanishing silently)."""
    out = []
    for c in df.columns:
        if c in skip:
            continue
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            out.append(c)
            continue
        parsed = pd.to_numeric(df[c], errors="coerce")
        if parsed.notna().mean() >= 0.5:
            out.append(c)  # _numeric_column will name the bad cell
        else:
            notes.append(f"column '{c}' is not numeric and is not used")
    return out


def _choose_columns(chunk: pd.DataFrame, spec: DataSpec, skip: set[str], path: Path,
                    notes: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Features, targets, and all value columns (features first), from the config or the
    first chunk's numeric columns."""
    features = list(spec.features) if spec.features else _auto_features(chunk, skip, notes)
    if not features:
        text = [c for c in chunk.columns if c not in skip]
        example = (f" (column '{text[0]}' holds text such as {str(chunk[text[0]].iloc[0])!r}: "
                   "write plain numbers without thousands separators or units)") if text else ""
        raise DataError(f"{path}: no numeric columns to use as features; columns are "
                        f"{list(chunk.columns)}{example}")
    targets = list(spec.targets) if spec.targets else list(features)
    columns = features + [t for t in targets if t not in features]
    missing_cols = [c for c in columns if c not in chunk.columns]
    if missing_cols:
        raise DataError(f"{path}: column(s) {missing_cols} not found (needed as features/targets);"
                        f" columns are {list(chunk.columns)}")
    clash = [c for c in columns if c in skip]
    if clash:
        raise DataError(f"{path}: column(s) {clash} are the time/series column and cannot "
                        "also be features or targets")
    return features, targets, columns


def _fill_missing(values: np.ndarray, policy: str) -> np.ndarray:
    df = pd.DataFrame(values)
    if policy == "interpolate":
        df = df.interpolate(method="linear", limit_direction="both")
    elif policy == "ffill":
        df = df.ffill().bfill()
    return df.to_numpy(dtype="float64")


def _infer_freq(ds: pd.Index) -> str | int | None:
    if len(ds) < 3:
        return None
    if not isinstance(ds, pd.DatetimeIndex):
        steps = np.unique(np.diff(ds.to_numpy()))
        return int(steps[0]) if len(steps) == 1 else None
    with warnings.catch_warnings():  # pandas 3 announces a return-type change; we take either
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(ds)
    return getattr(freq, "freqstr", freq)


def key_columns(header: list[str], spec: DataSpec, path) -> tuple[str | None, str | None]:
    """The time column and the series-id column (None: none / wide format)."""
    time_col = _pick_time_col(header, spec, path)
    series_col = spec.series
    if series_col is not None and series_col not in header:
        raise DataError(f"{path}: series column '{series_col}' (data.series) not found; "
                        f"columns are {header}")
    if series_col is None and SERIES_NAME in header:
        series_col = SERIES_NAME
    return time_col, series_col


def read_series(path: str | Path, spec: DataSpec, *, fallback_freq: str | int | None = None
                ) -> Frame:
    """Read a CSV into a Frame according to the `data:` section of the config.

    `fallback_freq` (the frequency a model was trained on) is used when the file is too
    short or irregular for the frequency to be inferred.
    """
    path = Path(path)
    header = read_header(path)
    notes: list[str] = []
    time_col, series_col = key_columns(header, spec, path)
    skip = {c for c in (time_col, series_col) if c}
    features = targets = columns = None
    values = times = codes = None
    id_codes: dict[str, int] = {}
    n_max, pos = _count_lines(path), 0
    # Chunk by chunk into pre-sized arrays: millions of timestamp strings never exist at once
    # and no concatenated copy is made (for a 2M-row file, most of a plain read_csv's memory).
    # series ids stay text as written: "007" and "7" are two series
    as_text = {header.index(series_col): str} if series_col is not None else None
    for chunk in _chunks(path, converters=as_text):
        chunk.columns = header
        if chunk.empty:
            continue
        if columns is None:
            features, targets, columns = _choose_columns(chunk, spec, skip, path, notes)
            values = np.empty((n_max, len(columns)), dtype="float64")
        k = len(chunk)
        for j, c in enumerate(columns):
            values[pos:pos + k, j] = _numeric_column(chunk, c, path)
        if time_col is not None:
            t = _parse_time(chunk[time_col], time_col, path).to_numpy()
            if t.dtype.kind == "M":  # one unit for every chunk (pandas picks it per chunk)
                t = t.astype("datetime64[ns]")
            if times is None:
                times = np.empty(n_max, dtype=t.dtype)
            elif t.dtype != times.dtype:
                raise DataError(f"{path}: line {_line(pos)}: column '{time_col}' mixes step "
                                "numbers and dates")
            times[pos:pos + k] = t
        if series_col is not None:
            ids = chunk[series_col]
            missing = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
            if missing.any():
                raise DataError(f"{path}: line {_line(pos + int(missing.argmax()))}: empty series"
                                f" id in column '{series_col}'")
            names = chunk[series_col].astype(str)
            for name in pd.unique(names):
                id_codes.setdefault(name, len(id_codes))
            if codes is None:
                codes = np.empty(n_max, dtype="int64")
            codes[pos:pos + k] = names.map(id_codes).to_numpy()
        pos += k
    if pos == 0:
        raise DataError(f"{path}: the file has a header but no data rows")
    values = values[:pos]
    times = times[:pos] if times is not None else None
    if codes is None:
        groups = [(DEFAULT_SERIES_ID, None)]  # one series: every row, no copy
    else:
        order = np.argsort(codes[:pos], kind="stable")  # rows of each series, in file order
        bounds = np.cumsum(np.bincount(codes[:pos], minlength=len(id_codes)))
        groups = [(name, order[(bounds[c - 1] if c else 0):bounds[c]])
                  for name, c in id_codes.items()]

    series: list[Series] = []
    freqs: dict[str, str | int | None] = {}
    for sid, rows in groups:
        label = f"series '{sid}'" if series_col else "the series"
        vals = values if rows is None else values[rows]
        if times is None:
            ds = pd.Index(np.arange(len(vals), dtype="int64"))
        else:
            ds = pd.Index(times if rows is None else times[rows])
            if not ds.is_monotonic_increasing:
                order = np.argsort(ds.to_numpy(), kind="stable")
                rows = order if rows is None else rows[order]
                ds, vals = ds[order], vals[order]
                notes.append(f"{label}: rows were not in time order; sorted by '{time_col}'")
            same = np.flatnonzero(ds[1:] == ds[:-1])  # sorted: duplicates are neighbours
            if len(same):
                k = int(same[0]) + 1
                line = _line(k if rows is None else rows[k])
                raise DataError(f"{path}: line {line}: duplicate timestamp {ds[k]} in {label}")
        nan_rows = np.isnan(vals).any(axis=1)
        if nan_rows.any():
            first = int(np.flatnonzero(nan_rows)[0])
            col = columns[int(np.flatnonzero(np.isnan(vals[first]))[0])]
            count = int(np.isnan(vals).sum())
            if spec.missing == "error":
                line = _line(first if rows is None else rows[first])
                raise DataError(f"{path}: line {line}: missing value in column "
                                f"'{col}' ({count} missing in {label}); set data.missing to "
                                "interpolate, ffill or drop")
            freqs[sid] = _infer_freq(ds)  # infer before dropping rows breaks the spacing
            if spec.missing == "drop":
                ds, vals = ds[~nan_rows], vals[~nan_rows]
            else:
                vals = _fill_missing(vals, spec.missing)
                if np.isnan(vals).any():
                    raise DataError(f"{path}: {label}: column '{col}' has no values at all")
            notes.append(f"{label}: {count} missing value(s) handled by '{spec.missing}'")
        else:
            freqs[sid] = _infer_freq(ds)
        series.append(Series(id=str(sid), ds=ds, values=np.ascontiguousarray(vals)))

    freq = choose_freq(spec.freq, list(freqs.values()), time_col=time_col,
                       fallback=fallback_freq, path=path, notes=notes)
    frame = Frame(path=str(path), series=series, features=features, targets=targets,
                  time_col=time_col, series_col=series_col, freq=freq, notes=notes)
    if spec.future:
        frame = with_future(frame, spec.future)
    return with_calendar(frame, spec.calendar) if spec.calendar else frame


def with_future(frame: Frame, columns: list[str]) -> Frame:
    """Covariates known ahead, aligned with the step being predicted (see Frame.ahead)."""
    wrong = [c for c in columns if c not in frame.features or c in frame.targets]
    if wrong:
        raise DataError(f"{frame.path}: data.future {wrong} must be input columns "
                        "(data.features) that are not targets")
    k = [frame.columns.index(c) for c in columns]
    series = []
    for s in frame.series:
        values = s.values.copy()
        values[:-1, k] = s.values[1:, k]
        series.append(Series(id=s.id, ds=s.ds, values=values))
    return replace(frame, series=series, ahead=list(columns))


def choose_freq(given: str | None, found: list, *, time_col: str | None, fallback,
                path, notes: list[str]) -> str | int | None:
    """The frame's frequency: data.freq, else the one all series agree on (an integer step
    of 1 without a time column), else the run's (`fallback`), else None with a note."""
    if given is not None:
        return given
    agreed = {f for f in found if f is not None}
    if len(agreed) > 1:
        raise DataError(f"{path}: series have different frequencies {sorted(map(str, agreed))};"
                        " set data.freq")
    if agreed:
        return agreed.pop()
    if time_col is None:
        return 1
    if fallback is None:
        notes.append("could not infer the time frequency (irregular or too few "
                     "timestamps); set data.freq to forecast future timestamps")
    return fallback


def with_calendar(frame: Frame, names: list[str]) -> Frame:
    """The frame with calendar feature columns (see calendar.py) after the other features."""
    from lstmcli import calendar

    if not all(isinstance(s.ds, pd.DatetimeIndex) for s in frame.series):
        raise DataError(f"{frame.path}: data.calendar needs timestamps, but the time column "
                        f"{frame.time_col!r} holds step numbers (or there is none)")
    added = calendar.column_names(names)
    clash = [c for c in added if c in frame.columns]
    if clash:
        raise DataError(f"{frame.path}: column(s) {clash} exist already; data.calendar would "
                        "add them; rename them in the file")
    k = len(frame.features)
    series = [Series(id=s.id, ds=s.ds, values=np.concatenate(
        [s.values[:, :k], calendar.features(s.ds, names), s.values[:, k:]], axis=1))
        for s in frame.series]
    return replace(frame, series=series, features=frame.features + added, derived=added)


def future_index(last: object, freq: str | int, steps: int) -> pd.Index:
    """The `steps` timestamps after `last`, continuing `freq`."""
    if isinstance(freq, int):
        return pd.Index(int(last) + freq * np.arange(1, steps + 1, dtype="int64"))
    try:
        return pd.date_range(start=last, periods=steps + 1, freq=freq)[1:]
    except ValueError as exc:
        raise DataError(f"invalid frequency {freq!r} (data.freq): {exc}") from None
