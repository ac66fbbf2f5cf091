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

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import DataSpec
from lstmcli.data import timegrid
from lstmcli.data.cells import (
    MAX_STEP,
    TIME_MAX,
    TIME_RANGE,
    _choose_columns,
    _numeric_columns,
    _parse_time,
)
from lstmcli.data.csvfile import (
    _chunks,
    _col,
    _cols,
    _count_lines,
    _line,
    _val,
    read_header,
    setting,
)
from lstmcli.data.recognition import (
    Keys,
    recognise,
)
from lstmcli.data.store import Series, SeriesStore
from lstmcli.data.store import ints_of as _ints
from lstmcli.data.store import kind_of as _kind
from lstmcli.errors import DataError

DEFAULT_SERIES_ID = "series_0"
INDEX_TIME_NAME = "t"  # name of the step counter when the file has no time column


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


# ------------------------------------------------------------------- names in messages


# ---------------------------------------------------------------------- the raw file


def _fill_missing(values: np.ndarray, policy: str) -> np.ndarray:
    df = pd.DataFrame(values)
    if policy == "interpolate":
        df = df.interpolate(method="linear", limit_direction="both")
    elif policy == "ffill":
        df = df.ffill().bfill()
    return df.to_numpy(dtype="float64")


def _infer_freq(ds: pd.Index) -> str | int | None:
    """The frequency of a sorted time index without duplicates, from its first
    timegrid.HEAD stamps, robust to gaps (see timegrid); None if too short or irregular."""
    return timegrid.infer(_ints(ds[:timegrid.HEAD]), _kind(ds))


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
    from lstmcli.data.staging import Staging

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
    from lstmcli.data.store import StoreWriter

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
    from lstmcli.data.store import mapped

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
    from lstmcli.data import calendar
    from lstmcli.data.store import mapped

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
