"""Streaming: train on a CSV larger than memory, reading it in chunks, pass after pass.

`read_series` holds every row in memory. This module never does: each function below
reads the file in chunks of `chunk_rows` rows, and what it keeps between chunks is a few
numbers per series plus, while cutting windows, the last look_back + horizon - 1 rows of
each series. Memory is bounded by the chunk size and the number of series, not by the
size of the file.

    sf = scan(path, config.data)                       # pass 1: columns, ids, counts, freq
    scaler, used, notes = fit_scaler(sf, config)       # pass 2: training rows only
    train = window_dataset(sf, scaler, config, part="train", used=used)  # a pass per epoch
    sf, scaler, data, notes = stream_layout(path, config)  # all of the above, as TrainData

The windows are those of `layouts.split_windows`: the same start rows and the same float32
values (a streamed standard scaler agrees with `Scaler.fit` to about 1e-15, so a value
may rarely round to the neighbouring float32). Their order is the file's order; shuffled,
it comes from a bounded buffer of windows instead of a permutation of the whole data set.
The frequency is inferred from each series' first FREQ_HEAD timestamps and every later
stamp is placed on its grid (timegrid.py), as `read_series` does: the same frequency and
the same missing time stamps (gaps), which `data.missing: drop` leaves out (`holes`).

What streaming needs of the file:

* each series' rows in time order (a file larger than memory cannot be sorted here);
  rows of different series may be interleaved, since every series keeps its own state;
* `data.missing: error` or `drop`; interpolate and ffill raise at the first missing value
  found, or after the scan at missing time stamps (they would be filled as rows);
* a fixed `window.look_back` (or `training.chunk_length`): not variable-length sequences.

Stateful training (`training.mode: stateful`) needs its batch rows in strict time order,
side by side: `lockstep` reads them and `stateful_stream` lays out the batches.

Per chunk of the 2-series file below, with look_back 2, horizon 1 and chunk_rows 3, the
last two scaled rows of each series are carried over so that windows cross chunks:

    chunk | rows                   | windows completed (series: start rows)
    ------+------------------------+---------------------------------------
      0   | a0 a1 a2               | a: 0
      1   | a3 b0 b1               | a: 1
      2   | b2 b3 b4               | b: 0 1 2
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import numpy as np
import pandas as pd

from lstmcli import timegrid
from lstmcli.config import Config, DataSpec
from lstmcli.data import (
    CHUNK_ROWS,
    DEFAULT_SERIES_ID,
    Gaps,
    _choose_columns,
    _col,
    _infer_freq,
    _line,
    _not_utf8,
    _numeric_columns,
    _parse_error,
    _parse_time,
    _read_csv,
    _several_series_hint,
    choose_freq,
    given_freq,
    off_grid,
    read_header,
    recognise,
    setting,
)
from lstmcli.errors import ConfigError, DataError, LstmcliError
from lstmcli.scaling import Scaler
from lstmcli.train import TrainData
from lstmcli.windows import n_windows

FREQ_HEAD = timegrid.HEAD  # timestamps per series the frequency is inferred from; the rest
# is placed on its grid (as read_series does)
SHUFFLE_BUFFER = 10_000  # windows in the training shuffle buffer (memory: x look_back rows)
BLOCK = 1024  # windows per element the generator yields (measured: see benchmarks/stream.py)


@dataclass(frozen=True)
class StreamSeries:
    id: str
    n_rows: int  # rows after data.missing: drop
    last_ds: pd.Timestamp | int | None  # None: no row left after dropping
    first_row: int = 0  # data rows of the file (0-based) holding its first and last row
    last_row: int = 0
    n_all: int = 0  # rows in the file, dropped ones included
    dropped: np.ndarray | None = None  # places in the file's rows of the series of rows
    # dropped by data.missing: drop (sorted); None: none
    holes: np.ndarray | None = None  # (gaps, 2): place in the file's rows of the series of
    # the row after each gap in its time stamps, and how many stamps are missing there
    # (left out by data.missing: drop); None: none


def time_places(series: StreamSeries, places: np.ndarray) -> np.ndarray:
    """Where rows `places` of a series (counted after data.missing: drop) lie on its time
    grid (0: its first row in the file): their places in the file (`file_places`), each
    moved on by the stamps missing before it."""
    at = file_places(series, np.asarray(places))
    holes = series.holes
    if holes is None or not len(holes):
        return at
    before = np.concatenate([[0], np.cumsum(holes[:, 1])])
    return at + before[np.searchsorted(holes[:, 0], at, side="right")]


def file_places(series: StreamSeries, places: np.ndarray) -> np.ndarray:
    """Where rows `places` of a series (counted after data.missing: drop) lie among its
    rows in the file: each dropped row before a place moves it one on."""
    dropped = series.dropped
    if dropped is None or not len(dropped):
        return places
    kept_before = dropped - np.arange(len(dropped))  # rows kept before each dropped row
    return places + np.searchsorted(kept_before, places, side="right")


@dataclass(frozen=True)
class StreamFrame:
    """What one pass over the file learnt: columns, series, frequency. No values."""

    path: str
    features: list[str]
    targets: list[str]
    columns: list[str]  # features, then targets that are not features
    feature_idx: list[int]
    target_idx: list[int]
    time_col: str | None
    series_col: str | None
    freq: str | int | None
    notes: list[str]
    series: list[StreamSeries]
    missing: str = "error"  # data.missing: later passes drop the same rows
    chunk_rows: int = CHUNK_ROWS  # later passes read chunks of this many rows by default
    stat: tuple[int, int] | None = None  # the file's size and mtime (ns) when it was scanned
    inferred: str | int | None = None  # the frequency of the time stamps, data.freq aside

    @property
    def is_long(self) -> bool:
        return self.series_col is not None


def _stat(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def changed(sf: StreamFrame) -> DataError | None:
    """The error to report if the file is no longer the one scanned (size or modification
    time differ): every pass reads it again, so an edit would mix two files."""
    if sf.stat is None:
        return None
    try:
        now = _stat(sf.path)
    except OSError:
        now = None
    if now == sf.stat:
        return None
    return DataError(f"{sf.path}: the file changed while lstmcli was reading it (its size or "
                     "modification time differ from the first pass); nothing was written. "
                     "Run the command again once the file is complete")


def check_unchanged(sf: StreamFrame) -> None:
    error = changed(sf)
    if error is not None:
        raise error


# ------------------------------------------------------------------- generator errors

_RAISED: list[LstmcliError] = []  # raised inside a tf.data generator, not yet reported


def guarded(make):
    """`make` (a generator function for `tf.data.Dataset.from_generator`) that records the
    LstmcliError it raises: TensorFlow replaces it with its own error and a traceback."""

    def generator():
        try:
            yield from make()
        except LstmcliError as exc:
            _RAISED.append(exc)
            raise

    return generator


@contextlib.contextmanager
def generator_errors():
    """Re-raise, as itself, the LstmcliError a guarded generator raised inside the block."""
    _RAISED.clear()
    try:
        yield
    except Exception:
        if _RAISED:
            raise _RAISED[-1] from None
        raise
    finally:
        _RAISED.clear()


# ------------------------------------------------------------------------------ reading


def _check_chunk_rows(chunk_rows: int) -> int:
    if int(chunk_rows) < 1:
        raise ConfigError(f"`chunk_rows` must be >= 1. Received: chunk_rows={chunk_rows}")
    return int(chunk_rows)


def _chunks(path: Path, names: list[str], header: list[str], *, series_col: str | None,
            chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Chunks of the columns `names` (stripped header names, in file order), with the
    series ids as text as written ("007" and "7" are two series), as `read_series` reads
    them; a parse error in any chunk is a DataError. The index continues across chunks
    (0-based data rows), so `data._line(index)` is the line in the file."""
    place = {c: j for j, c in enumerate(header)}
    usecols = sorted(place[c] for c in names)  # pandas gives them in file order
    kw = {"dtype": {place[series_col]: str}} if series_col else {}
    reader = _read_csv(path, chunksize=chunk_rows, usecols=usecols, **kw)
    try:
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _not_utf8(path) from None
            except (pd.errors.ParserError, ValueError) as exc:
                raise _parse_error(path, exc) from None
            chunk.columns = [header[j] for j in usecols]
            if len(chunk):
                yield chunk
    finally:
        reader.close()


def _series_codes(chunk: pd.DataFrame, series_col: str | None, codes: dict[str, int],
                  path: Path) -> np.ndarray:
    """Each row's series number (in order of first appearance in the file), (rows,)."""
    if series_col is None:
        codes.setdefault(DEFAULT_SERIES_ID, 0)
        return np.zeros(len(chunk), dtype="int64")
    col = chunk[series_col]
    missing = col.isna().to_numpy()
    if missing.any():
        row = int(chunk.index[int(missing.argmax())])
        raise DataError(f"{path}: line {_line(row)}: empty series id in column "
                        f"{_col(series_col)}")
    local, names = pd.factorize(col.astype(str))
    known = np.array([codes.setdefault(str(n), len(codes)) for n in names], dtype="int64")
    return known[local]


def _groups(codes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(series number, its rows in the chunk in file order) for each series in the chunk."""
    if len(codes) and (codes == codes[0]).all():
        return [(int(codes[0]), np.arange(len(codes)))]
    order = np.argsort(codes, kind="stable")
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    return [(int(codes[rows[0]]), rows) for rows in np.split(order, cuts)]


def _values(chunk: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """(rows, columns) float64, refusing non-numeric, infinite and huge values."""
    return _numeric_columns(chunk, columns, path)


def _label(series_col: str | None, sid: str) -> str:
    return f"series {_col(sid)}" if series_col else "the series"


def _stamp(value: int, kind: str) -> pd.Timestamp | int:
    return pd.Timestamp(int(value), unit="ns") if kind == "M" else int(value)


@dataclass
class _Track:
    """One series during the scan: counts, last time, frequency and gap evidence."""

    id: str
    n_rows: int = 0  # rows kept (after dropping missing values)
    n_all: int = 0  # rows in the file
    last_t: int | None = None  # time of the last row in the file (int64; ns for dates)
    last_ds: int | None = None  # time of the last kept row
    first_row: int = -1  # the file's data rows holding its first and last row
    last_row: int = -1
    dropped: list = field(default_factory=list)  # places (in the file) of dropped rows
    nan_cells: int = 0
    head: list = field(default_factory=list)  # (times, file places, rows) of the first
    # FREQ_HEAD stamps, for the frequency
    head_len: int = 0
    freq: str | int | None = None
    freq_done: bool = False
    placed: tuple | None = None  # (time, data row of the file) of the last stamp placed
    holes: list = field(default_factory=list)  # (file place of the row after a gap, stamps
    # missing before it)
    missing: int = 0
    first_gap: tuple | None = None  # (data row of the file before it, first missing stamp)
    inferred: str | int | None = None  # with data.freq: the frequency of the first stamps

    def see_times(self, times: np.ndarray, rows: np.ndarray, kind: str, given,
                  *, path: Path, label: str) -> tuple[int, str] | None:
        """Infer the frequency from the first FREQ_HEAD times (data.freq when given), then
        place every stamp on its grid: steps of several places are gaps; a stamp off the
        grid makes the series irregular, or is an error with data.freq. Call before adding
        the rows to n_all. Returns (line, message) of a stamp off data.freq's grid."""
        if self.freq_done and self.freq is None:
            return None  # already irregular
        at = self.n_all + np.arange(len(times))  # their places among the series' rows
        if given is not None:
            if self.head_len < FREQ_HEAD:  # kept only to tell the frequency they have
                take = times[:FREQ_HEAD - self.head_len]
                self.head.append((take, at[:len(take)], rows[:len(take)]))
                self.head_len += len(take)
            self.freq, self.freq_done = given, True
        elif not self.freq_done:
            take = FREQ_HEAD - self.head_len
            self.head.append((times[:take], at[:take], rows[:take]))
            self.head_len += len(times[:take])
            if self.head_len < FREQ_HEAD:
                return None
            self.finish_freq(kind, None, path=path, label=label)
            times, at, rows = times[take:], at[take:], rows[take:]
        return self._place(times, at, rows, kind, given, path=path, label=label)

    def _place(self, times, at, rows, kind, given, *, path, label) -> tuple[int, str] | None:
        if self.freq is None or not len(times):
            return None
        if self.placed is None:  # the first stamp: place 0
            self.placed = (int(times[0]), int(rows[0]))
            times, at, rows = times[1:], at[1:], rows[1:]
            if not len(times):
                return None
        prev_t, prev_row = self.placed
        p = timegrid.places(prev_t, times, self.freq, kind)
        off = p < 0
        if off.any():
            k = int(np.argmax(off))
            if given is not None:
                if not timegrid.on_offset(prev_t, self.freq, kind):  # the first stamp
                    return _line(prev_row), str(off_grid(path, _line(prev_row),
                                                         _stamp(prev_t, kind), None,
                                                         self.freq, label))
                before = times[k - 1] if k else prev_t
                return _line(rows[k]), str(off_grid(path, _line(rows[k]), _stamp(times[k], kind),
                                                    _stamp(before, kind), self.freq, label))
            self.freq, self.holes, self.missing, self.first_gap = None, [], 0, None
            return None  # irregular past the first stamps
        steps = np.diff(np.concatenate([[0], p]))
        holes = np.flatnonzero(steps > 1)
        if len(holes):
            self.holes += [(int(at[k]), int(steps[k] - 1)) for k in holes]
            self.missing += int((steps[holes] - 1).sum())
            if self.first_gap is None:
                k = int(holes[0])
                t, row = (int(times[k - 1]), int(rows[k - 1])) if k else (prev_t, prev_row)
                nxt = timegrid.stamps(t, 2, self.freq, kind)[1]
                self.first_gap = (row, _stamp(nxt, kind))
        self.placed = (int(times[-1]), int(rows[-1]))
        return None

    def finish_freq(self, kind: str, given, *, path: Path, label: str) -> None:
        """Infer the frequency from the stamps in `head` and place them (a series whose
        first FREQ_HEAD stamps give none keeps them in `head` for `place_on`); with data.freq
        (`given`), only what the first stamps have, for `inferred`. Called when FREQ_HEAD
        stamps are in, and for every series at the end of the scan: once done, again is
        nothing."""
        if given is not None:
            if self.head:
                times = np.concatenate([h[0] for h in self.head])
                self.inferred, self.head = _infer_freq(
                    pd.DatetimeIndex(times.view("datetime64[ns]")) if kind == "M"
                    else pd.Index(times)), []
            return
        if self.freq_done:  # inferred already (`head`, if kept, is for `place_on`)
            return
        parts = self.head or [(np.empty(0, dtype="int64"),) * 3]
        times, at, rows = (np.concatenate(x) for x in zip(*parts, strict=True))
        index = pd.DatetimeIndex(times.view("datetime64[ns]")) if kind == "M" else pd.Index(times)
        self.freq, self.freq_done, self.head = _infer_freq(index), True, []
        self._place(times, at, rows, kind, None, path=path, label=label)
        if self.freq is None and len(times) <= FREQ_HEAD:  # for `place_on`
            self.head = [(times, at, rows)]

    def place_on(self, freq, kind: str, *, path: Path, label: str) -> None:
        """Place the stamps of a series too short to show its own frequency on `freq`, the
        one the other series agree on (as read_series does: only a series of at most
        FREQ_HEAD rows); the frequency stays None."""
        if self.freq is not None or not self.head or self.n_all > FREQ_HEAD:
            return
        times, at, rows = self.head[0]
        self.freq, self.placed = freq, None
        self._place(times, at, rows, kind, None, path=path, label=label)
        self.freq = None


def _as_int_times(t: np.ndarray, *, path: Path, name: str, row: int) -> tuple[np.ndarray, str]:
    """Times as int64 (nanoseconds for dates: every chunk in one unit) and their kind."""
    if t.dtype.kind != "M":
        return t.astype("int64"), "i"
    try:
        return pd.DatetimeIndex(t).as_unit("ns").asi8, "M"
    except pd.errors.OutOfBoundsDatetime:
        raise DataError(f"{path}: line {_line(row)}: column {_col(name)} has dates outside "
                        "1677-2262, which streaming does not support; use step numbers, or "
                        "train without streaming") from None


def _time_problem(tr: _Track, times: np.ndarray, rows: np.ndarray, kind: str, *,
                  path: Path, label: str, hint: str = "") -> tuple[int, str] | None:
    """(line, message) of the first row of a series not after the one before it."""
    prev = tr.last_t if tr.last_t is not None else times[0] - 1
    seq = np.concatenate([[prev], times]).astype("int64")
    # compared, not subtracted: nanosecond stamps over 292 years apart overflow int64
    bad = np.flatnonzero(seq[1:] <= seq[:-1])
    if not len(bad):
        return None
    k = int(bad[0])
    line = _line(rows[k])
    before = times[k - 1] if k else tr.last_t
    if seq[k + 1] == seq[k]:
        return line, (f"{path}: line {line}: duplicate timestamp {_stamp(times[k], kind)} in "
                      f"{label}{hint}")
    return line, (f"{path}: line {line}: {label}: timestamp {_stamp(times[k], kind)} is "
                  f"earlier than the row before it ({_stamp(before, kind)}); streaming needs "
                  "each series' rows in time order (a file larger than memory is not sorted "
                  "here). Sort the file by series and "
                  "time first (GNU sort works on files larger than memory), or train without "
                  "streaming")


def _missing_problem(vals: np.ndarray, nan_rows: np.ndarray, rows: np.ndarray, *,
                     columns: list[str], policy: str, path: Path, label: str
                     ) -> tuple[int, str]:
    first = int(np.flatnonzero(nan_rows)[0])
    col = columns[int(np.flatnonzero(np.isnan(vals[first]))[0])]
    line = _line(rows[first])
    where = f"{path}: line {line}: missing value in column {_col(col)} ({label})"
    if policy == "error":
        return line, (f"{where}; set data.missing to drop (streaming cannot interpolate or "
                      "ffill: that needs the whole series in memory)")
    return line, (f"{where}: data.missing '{policy}' needs the whole series in memory, which "
                  "streaming never holds; set data.missing to drop, or fill the gaps in the "
                  "file first")


def scan(path: str | Path, spec: DataSpec, *, chunk_rows: int = CHUNK_ROWS,
         fallback_freq: str | int | None = None) -> StreamFrame:
    """One pass over the CSV: columns, series ids, row counts, last timestamps, frequency.

    Columns, ids and frequency are those `read_series(path, spec)` finds (the columns are
    chosen from the first `data.CHUNK_ROWS` rows, as there). Memory: one chunk plus, per
    series, a few numbers and up to FREQ_HEAD timestamps.

    >>> sf = scan("long.csv", DataSpec(), chunk_rows=7)   # unique_id, ds, y; 3 series
    >>> [(s.id, s.n_rows) for s in sf.series], sf.freq
    ([('s0', 30), ('s1', 25), ('s2', 20)], 'D')
    """
    path = Path(path)
    chunk_rows = _check_chunk_rows(chunk_rows)
    header = read_header(path)
    stat = _stat(path)
    notes: list[str] = []
    keys = recognise(header, spec, path)
    time_col, series_col = keys.time, keys.series
    hint = _several_series_hint(series_col, keys)  # for a duplicated time stamp
    skip = {c for c in (time_col, series_col) if c}
    # the columns read_series would choose: from its first chunk of CHUNK_ROWS rows
    as_text = {header.index(series_col): str} if series_col else None
    head = _read_csv(path, nrows=CHUNK_ROWS, converters=as_text)
    head.columns = header
    if head.empty:
        raise DataError(f"{path}: the file has a header but no data rows")
    features, targets, columns = _choose_columns(head, spec, skip, path, notes)
    del head

    wanted = skip | set(columns)
    names = [c for c in header if c in wanted]
    codes: dict[str, int] = {}
    tracks: list[_Track] = []
    kind = None  # "M" dates, "i" step numbers
    given = None  # data.freq, for the kind of stamps
    for chunk in _chunks(path, names, header, series_col=series_col, chunk_rows=chunk_rows):
        rows = chunk.index.to_numpy()
        vals = _values(chunk, columns, path)
        times = None
        if time_col is not None:
            t = _parse_time(chunk[time_col], time_col, path).to_numpy()
            times, k = _as_int_times(t, path=path, name=time_col, row=int(rows[0]))
            if kind is None:
                kind = k
                given = given_freq(spec.freq, kind, path)
            elif k != kind:
                raise DataError(f"{path}: line {_line(rows[0])}: column {_col(time_col)} "
                                "mixes step numbers and dates")
        chunk_codes = _series_codes(chunk, series_col, codes, path)
        del chunk
        tracks += [_Track(id=sid) for sid in list(codes)[len(tracks):]]
        nan_rows = np.isnan(vals).any(axis=1)
        problems = []
        for code, idx in _groups(chunk_codes):
            tr = tracks[code]
            label = _label(series_col, tr.id)
            if times is not None:
                tg = times[idx]
                problem = _time_problem(tr, tg, rows[idx], kind, path=path, label=label,
                                        hint=hint)
                if problem:
                    problems.append(problem)
                    continue
                problem = tr.see_times(tg, rows[idx], kind, given, path=path, label=label)
                if problem:
                    problems.append(problem)
                    continue
            else:  # the step number is the row's place in its series, missing rows included
                tg = np.arange(tr.n_all, tr.n_all + len(idx), dtype="int64")
            gnan = nan_rows[idx]
            if gnan.any():
                if spec.missing != "drop":
                    problems.append(_missing_problem(vals[idx], gnan, rows[idx], columns=columns,
                                                     policy=spec.missing, path=path, label=label))
                    continue
                tr.nan_cells += int(np.isnan(vals[idx]).sum())
                tr.dropped.append(tr.n_all + np.flatnonzero(gnan))
            kept = np.flatnonzero(~gnan)
            if len(kept):
                tr.n_rows += len(kept)
                tr.last_ds = int(tg[kept[-1]])
            tr.n_all += len(idx)
            tr.last_t = int(tg[-1])
            if tr.first_row < 0:
                tr.first_row = int(rows[idx[0]])
            tr.last_row = int(rows[idx[-1]])
        if problems:
            raise DataError(min(problems)[1])
    if not tracks:
        raise DataError(f"{path}: the file has a header but no data rows")

    freqs, gaps = [], Gaps()
    for tr in tracks:
        if time_col is not None:
            tr.finish_freq(kind, given, path=path, label=_label(series_col, tr.id))
    common = {tr.freq for tr in tracks if tr.freq is not None}  # what the series agree on
    for tr in tracks:
        if time_col is not None:
            if given is None and len(common) == 1:
                tr.place_on(next(iter(common)), kind, path=path,
                            label=_label(series_col, tr.id))
            if tr.missing:
                row, stamp = tr.first_gap
                gaps.count(missing=tr.missing, holes=len(tr.holes), rows=tr.n_all,
                           line=_line(row), stamp=stamp, freq=tr.freq or next(iter(common)),
                           label=_label(series_col, tr.id), path=path)
    if gaps.stamps and spec.missing != "drop":
        fix = (f"set {setting('data.missing')} to drop (to leave them out; streaming cannot "
               "fill them as rows: that needs the whole series in memory), or fill them in "
               f"the file first, or set {setting('data.freq')} if {gaps.freq!r} is not the "
               "frequency" if spec.missing == "error" else
               f"data.missing '{spec.missing}' would fill them as rows, which needs the whole "
               "series in memory, which streaming never holds; set data.missing to drop, or "
               "fill the gaps in the file first")
        raise DataError(f"{gaps.message(path)}; {fix}")
    for tr in tracks:
        if tr.nan_cells:  # read_series's note, in its order
            notes.append(f"{_label(series_col, tr.id)}: {tr.nan_cells} missing value(s) "
                         f"handled by '{spec.missing}'")
        freqs.append((1 if tr.n_all >= 3 else None) if time_col is None else
                     tr.inferred if given is not None else tr.freq)  # (data.freq wins)
    if gaps.stamps:
        notes.append(gaps.note(spec.missing))
    notes[:0] = keys.notes(len(tracks))
    freq = choose_freq(given if time_col is not None else spec.freq, freqs, time_col=time_col,
                       fallback=fallback_freq, path=path, notes=notes)
    agreed = {f for f in freqs if f is not None}
    place = {c: j for j, c in enumerate(columns)}
    last_kind = kind or "i"
    series = [StreamSeries(id=tr.id, n_rows=tr.n_rows,
                           last_ds=None if tr.last_ds is None else _stamp(tr.last_ds, last_kind),
                           first_row=tr.first_row, last_row=tr.last_row, n_all=tr.n_all,
                           dropped=np.concatenate(tr.dropped) if tr.dropped else None,
                           holes=np.array(tr.holes, dtype="int64") if tr.missing else None)
              for tr in tracks]
    return StreamFrame(path=str(path), features=features, targets=targets, columns=columns,
                       feature_idx=[place[c] for c in features],
                       target_idx=[place[c] for c in targets], time_col=time_col,
                       series_col=series_col, freq=freq, notes=notes, series=series,
                       missing=spec.missing, chunk_rows=chunk_rows, stat=stat,
                       inferred=agreed.pop() if len(agreed) == 1 else None)


def _series_rows(sf: StreamFrame, chunk_rows: int | None = None
                 ) -> Iterator[list[tuple[str, int, np.ndarray]]]:
    """`_file_rows`, after checking that the file is the one scanned; a data error on the
    way is reported as a changed file when it did change."""
    with unchanged(sf):
        yield from _file_rows(sf, chunk_rows)


@contextlib.contextmanager
def unchanged(sf: StreamFrame):
    """Check that the file is still the one scanned, before the block and when a data
    error ends it (which then reports the change instead)."""
    check_unchanged(sf)
    try:
        yield
    except DataError:
        check_unchanged(sf)
        raise


def _file_rows(sf: StreamFrame, chunk_rows: int | None = None
               ) -> Iterator[list[tuple[str, int, np.ndarray]]]:
    """Per chunk: (series id, place of its first row here in the series, its rows
    (rows, columns) float64) for each series in the chunk, missing rows dropped as in the
    scan. Only the series and value columns are parsed (no timestamps)."""
    path = Path(sf.path)
    header = read_header(path)
    wanted = set(sf.columns) | ({sf.series_col} if sf.series_col else set())
    names = [c for c in header if c in wanted]
    seen: dict[str, int] = {}
    codes: dict[str, int] = {}
    ids: list[str] = []
    for chunk in _chunks(path, names, header, series_col=sf.series_col,
                         chunk_rows=_check_chunk_rows(chunk_rows or sf.chunk_rows)):
        vals = _values(chunk, sf.columns, path)
        chunk_codes = _series_codes(chunk, sf.series_col, codes, path)
        ids += list(codes)[len(ids):]
        nan_rows = np.isnan(vals).any(axis=1)
        if nan_rows.any():
            if sf.missing != "drop":
                raise DataError(f"{path}: line {_line(chunk.index[int(nan_rows.argmax())])}: "
                                "missing value that the scan did not see; did the file change?")
            keep = ~nan_rows
            vals, chunk_codes = vals[keep], chunk_codes[keep]
        out = []
        for code, idx in _groups(chunk_codes):
            sid = ids[code]
            pos = seen.get(sid, 0)
            seen[sid] = pos + len(idx)
            out.append((sid, pos, vals[idx]))
        yield out


def _usable(sf: StreamFrame, config: Config, min_rows: int
            ) -> tuple[list[tuple[StreamSeries, int]], list[str]]:
    """layouts.usable_series on the scanned row counts: same choice, notes and errors."""
    from lstmcli.layouts import usable_series as _usable_series

    # _usable_series only takes len() of each series' values: a range has it, costs nothing
    sized = SimpleNamespace(path=sf.path, series=[SimpleNamespace(id=s.id, values=range(s.n_rows))
                                                  for s in sf.series])
    by_id = {s.id: s for s in sf.series}
    used, notes = _usable_series(sized, config, min_rows)
    return [(by_id[s.id], n) for s, n in used], notes


def _check_supported(config: Config) -> None:
    if config.variable_length:
        raise ConfigError("window.look_back: null (variable-length sequences) is not supported "
                          "when streaming: each whole series is one sample and would have to "
                          "fit in memory. Set window.look_back, or train without streaming")


# ------------------------------------------------------------------------------ scaling


class _Moments:
    """Per-column count, mean, sum of squared deviations, min and max of rows added chunk
    by chunk: numpy's two-pass mean and deviations within a chunk, Chan et al.'s pairwise
    update between chunks, all on the rows minus the first row (so values like 1e9 + noise
    keep their variance)."""

    def __init__(self, n_cols: int) -> None:
        self.n = 0
        self.ref: np.ndarray | None = None
        self._mean = np.zeros(n_cols)  # of rows - ref
        self.m2 = np.zeros(n_cols)
        self.min = np.full(n_cols, np.inf)
        self.max = np.full(n_cols, -np.inf)

    @property
    def mean(self) -> np.ndarray:
        return self._mean if self.ref is None else self.ref + self._mean

    def add(self, rows: np.ndarray) -> None:
        k = len(rows)
        if not k:
            return
        if self.ref is None:
            self.ref = rows[0].copy()
        self.min = np.minimum(self.min, rows.min(axis=0))
        self.max = np.maximum(self.max, rows.max(axis=0))
        rows = rows - self.ref
        mean = rows.mean(axis=0)
        m2 = ((rows - mean) ** 2).sum(axis=0)
        n = self.n + k
        delta = mean - self._mean
        self._mean = self._mean + delta * (k / n)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.n * k / n)
        self.n = n


def fit_scaler(sf: StreamFrame, config: Config, *, chunk_rows: int | None = None
               ) -> tuple[Scaler, list[tuple[StreamSeries, int]], list[str]]:
    """A pass over the training rows (the first n_train rows of each usable series, as
    `layouts.split_windows` or `layouts.stateful_layout` choose them): the Scaler
    `Scaler.fit` gives on those rows (equal to rounding), the usable (series, n_train)
    pairs, and notes on the skipped series."""
    _check_supported(config)
    w = config.window
    min_rows = (config.chunk_length + 1 if config.training.mode == "stateful"
                else w.look_back + w.horizon)
    used, notes = _usable(sf, config, min_rows)
    kind = config.data.scaling
    if kind == "none":
        return Scaler.fit(kind, sf.columns, np.empty((0, len(sf.columns)))), used, notes
    limit = {s.id: n for s, n in used}
    acc = _Moments(len(sf.columns))
    for groups in _series_rows(sf, chunk_rows):
        parts = [rows[:limit[sid] - pos] for sid, pos, rows in groups
                 if sid in limit and pos < limit[sid]]
        if parts:
            acc.add(parts[0] if len(parts) == 1 else np.concatenate(parts))
    if kind == "minmax":
        shift, scale = acc.min, acc.max - acc.min
    elif kind == "standard":
        shift, scale = acc.mean, np.sqrt(acc.m2 / acc.n)  # ddof 0, as numpy's std
    else:
        raise ConfigError(f"data.scaling: unknown scaler. Received: {kind!r}")
    scale = np.where(scale > 0, scale, 1.0)
    return Scaler(kind, list(sf.columns), shift.astype("float64"), scale.astype("float64")), \
        used, notes


# ------------------------------------------------------------------------------ windows


def _first_start(n_train: int, look_back: int, stride: int, part: str) -> int:
    """The first start row of the part: training windows from row 0, validation windows
    from the first start whose targets lie in the validation tail."""
    if part == "train":
        return 0
    lo = max(0, n_train - look_back)
    return -(-lo // stride) * stride


def _last_start(n_rows: int, n_train: int, config: Config, part: str) -> int:
    """The last allowed start row (may be below the first: no window)."""
    w = config.window
    end = n_train if part == "train" else n_rows
    span = end - w.look_back - w.horizon
    return -1 if span < 0 else span // w.stride * w.stride


def count_windows(used: list[tuple[StreamSeries, int]], config: Config,
                  part: Literal["train", "val"]) -> int:
    """How many windows `window_dataset` yields for `part`, from the row counts alone."""
    w = config.window
    if part == "train":
        return sum(n_windows(n, look_back=w.look_back, horizon=w.horizon, stride=w.stride)
                   for _, n in used)
    total = 0
    for s, n in used:
        first, last = _first_start(n, w.look_back, w.stride, part), \
            _last_start(s.n_rows, n, config, part)
        total += 0 if last < first else (last - first) // w.stride + 1
    return total


@dataclass
class _Cut:
    """One series while cutting windows: the scaled rows still needed, from `base` on."""

    next_start: int  # first start row not yet cut
    last_start: int  # last start row to cut
    buf: np.ndarray | None = None  # (rows, columns) float32 scaled (raw float64 for
    # predictions), series rows base, base + 1, ...
    base: int = 0


def _windows(sf: StreamFrame, scaler: Scaler, config: Config, *, part: str,
             used: list[tuple[StreamSeries, int]], chunk_rows: int | None,
             block: int, places: bool = False) -> Iterator[tuple]:
    """Blocks of up to `block` windows, (x, y) or ((x, prev), y), float32, in file order.
    places=True yields (series id, start rows, x, y) instead, for predictions, with y the
    raw (unscaled, float64) targets.

    x: (k, look_back, features); y: (k, horizon, targets), or (k, look_back, targets) for
    per-step models; prev: (k, horizon, targets), the targets one step earlier (teacher
    forcing). The same arithmetic as `pipeline.window_dataset` on the stacked series.
    """
    w = config.window
    look_back, horizon, stride = w.look_back, w.horizon, w.stride
    span = look_back + horizon
    per_step = config.model.topology == "many_to_many"
    teacher = config.model.topology == "seq2seq" and config.model.teacher_forcing
    all_cols = list(range(len(sf.columns)))
    f_idx = None if sf.feature_idx == all_cols else sf.feature_idx
    t_idx = None if sf.target_idx == all_cols else sf.target_idx
    x_off = np.arange(look_back)
    y_off = np.arange(1, look_back + 1) if per_step else np.arange(look_back, span)
    shift, scale = scaler.shift, scaler.scale
    x_shift, x_scale = shift[sf.feature_idx], scale[sf.feature_idx]

    cuts: dict[str, _Cut] = {}
    for s, n_train in used:
        first = _first_start(n_train, look_back, stride, part)
        last = _last_start(s.n_rows, n_train, config, part)
        if last >= first:
            cuts[s.id] = _Cut(next_start=first, last_start=last)

    for groups in _series_rows(sf, chunk_rows):
        for sid, pos, rows in groups:
            c = cuts.get(sid)
            if c is None:
                continue
            have = c.buf is not None
            lo = pos if have else max(pos, c.next_start)  # a kept buffer ends at `pos`
            hi = min(pos + len(rows), c.last_start + span)
            if hi <= lo:
                continue
            new = rows[lo - pos:hi - pos]
            if not places:  # predictions keep raw rows: their targets are written as read
                new = ((new - shift) / scale).astype("float32")
            c.buf, c.base = (np.concatenate([c.buf, new]), c.base) if have else (new, lo)
            last = min(c.last_start, c.base + len(c.buf) - span)
            if last >= c.next_start:
                starts = np.arange(c.next_start, last + 1, stride) - c.base
                xs = c.buf if f_idx is None else c.buf[:, f_idx]
                ys = c.buf if t_idx is None else c.buf[:, t_idx]
                for b in range(0, len(starts), block):
                    rel = starts[b:b + block, None]
                    x, y = xs[rel + x_off], ys[rel + y_off]
                    if places:
                        x = ((x - x_shift) / x_scale).astype("float32")
                        yield sid, c.base + rel[:, 0], x, y
                    else:
                        yield ((x, ys[rel + y_off - 1]), y) if teacher else (x, y)
                c.next_start = c.base + int(starts[-1]) + stride
            if c.next_start > c.last_start:
                del cuts[sid]  # done with this series
                continue
            keep = c.next_start - c.base  # rows before the next start are never needed again
            c.buf = c.buf[keep:].copy() if keep < len(c.buf) else None
            c.base = c.next_start
    if cuts:
        sid = next(iter(cuts))
        raise DataError(f"{sf.path}: series {_col(sid)} ended before its windows did; did the file "
                        "change since it was scanned?")


def window_dataset(sf: StreamFrame, scaler: Scaler, config: Config, *,
                   part: Literal["train", "val"], used: list[tuple[StreamSeries, int]],
                   chunk_rows: int | None = None, shuffle_buffer: int = SHUFFLE_BUFFER,
                   block: int = BLOCK):
    """A tf.data.Dataset of (x, y) batches that re-reads the CSV in chunks every epoch.

    Yields exactly the windows of `layouts.split_windows` for `part` (train: start + look_back
    + horizon <= n_train; val: start + look_back >= n_train; every stride-th start), per-step
    targets for many_to_many and ((x, previous targets), y) for seq2seq with teacher forcing.
    Training windows are shuffled (training.shuffle) in a buffer of `shuffle_buffer` windows,
    seeded by training.seed; validation windows come in file order.
    """
    _check_supported(config)
    if config.training.mode == "stateful":
        raise ValueError("stateful batches come from stateful_stream.stateful_stream_layout")
    if part not in ("train", "val"):
        raise ValueError(f"part must be 'train' or 'val'. Received: part={part!r}")
    from lstmcli.backend import import_keras

    import_keras()
    import tensorflow as tf  # noqa: TID253

    w, t = config.window, config.training
    per_step = config.model.topology == "many_to_many"
    teacher = config.model.topology == "seq2seq" and config.model.teacher_forcing
    n_f, n_t = len(sf.features), len(sf.targets)
    x_spec = tf.TensorSpec((None, w.look_back, n_f), tf.float32)
    y_spec = tf.TensorSpec((None, w.look_back if per_step else w.horizon, n_t), tf.float32)
    p_spec = tf.TensorSpec((None, w.horizon, n_t), tf.float32)
    signature = ((x_spec, p_spec), y_spec) if teacher else (x_spec, y_spec)
    n = count_windows(used, config, part)

    def windows():
        return _windows(sf, scaler, config, part=part, used=used, chunk_rows=chunk_rows,
                        block=block)

    ds = tf.data.Dataset.from_generator(guarded(windows), output_signature=signature).unbatch()
    if part == "train" and t.shuffle and n > 1:
        ds = ds.shuffle(max(1, min(shuffle_buffer, n)), seed=t.seed,
                        reshuffle_each_iteration=True)
    ds = ds.batch(t.batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(math.ceil(n / t.batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def stream_layout(path: str | Path, config: Config, *, chunk_rows: int = CHUNK_ROWS,
                  shuffle_buffer: int = SHUFFLE_BUFFER
                  ) -> tuple[StreamFrame, Scaler, TrainData, list[str]]:
    """`layouts.split_windows` for a file larger than memory: scan, fit the scaler, and the
    training and validation datasets, as TrainData with the same counts and shapes."""
    _check_supported(config)
    sf = scan(path, config.data, chunk_rows=chunk_rows)
    scaler, used, notes = fit_scaler(sf, config)
    if config.training.mode == "stateful":
        from lstmcli.stateful_stream import stateful_stream_layout

        data, more = stateful_stream_layout(sf, config, used, scaler)
        return sf, scaler, data, notes + more
    w, t = config.window, config.training
    common = dict(used=used, shuffle_buffer=shuffle_buffer)
    train = window_dataset(sf, scaler, config, part="train", **common)
    n_train = count_windows(used, config, "train")
    n_val = count_windows(used, config, "val") if t.validation > 0 else 0
    val = window_dataset(sf, scaler, config, part="val", **common) if n_val else None
    per_step = config.model.topology == "many_to_many"
    data = TrainData(x=train, y=None, val=val, batch_size=t.batch_size, shuffle=t.shuffle,
                     n_train=n_train, n_val=n_val,
                     x_shape=[n_train, w.look_back, len(sf.features)],
                     y_shape=[n_train, w.look_back if per_step else w.horizon, len(sf.targets)])
    notes.append(f"streaming {sf.path} in chunks of {sf.chunk_rows} rows: every epoch reads "
                 "the file again" + (f"; shuffled in a buffer of {shuffle_buffer} windows"
                                     if t.shuffle else ""))
    return sf, scaler, data, notes


# ------------------------------------------------------------------------------ predict


def predict_blocks(sf: StreamFrame, scaler: Scaler, config: Config, *, block: int = 4096
                   ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Every window of every series whose targets are in the file (stride 1), in file
    order, from one more pass: (series id, start rows, x scaled, y as in the file)."""
    every = config.model_copy(update={"window": config.window.model_copy(
        update={"stride": 1})})
    used = [(s, s.n_rows) for s in sf.series]
    yield from _windows(sf, scaler, every, part="train", used=used, chunk_rows=None,
                        block=block, places=True)


# -------------------------------------------------------------------------------- tails


def tails(sf: StreamFrame, n: int, *, chunk_rows: int | None = None) -> list[np.ndarray]:
    """The last `n` rows (raw units, (rows, columns) float64) of each series, in
    `sf.series` order, from one more pass: what a rollout past the end starts from."""
    if n < 1:
        raise ConfigError(f"`n` must be >= 1. Received: n={n}")
    last: dict[str, np.ndarray] = {}
    for groups in _series_rows(sf, chunk_rows):
        for sid, _, rows in groups:
            rows = rows[-n:]
            old = last.get(sid)
            last[sid] = rows.copy() if old is None else np.concatenate([old, rows])[-n:]
    empty = np.empty((0, len(sf.columns)))
    return [last.get(s.id, empty) for s in sf.series]


def column_ranges(sf: StreamFrame, *, chunk_rows: int | None = None
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each series' smallest and largest value of every column (raw units), from one more
    pass: what `datacheck` compares with the ranges a run was trained on."""
    lows: dict[str, np.ndarray] = {}
    highs: dict[str, np.ndarray] = {}
    for groups in _series_rows(sf, chunk_rows):
        for sid, _, rows in groups:
            if not len(rows):
                continue
            lo, hi = rows.min(axis=0), rows.max(axis=0)
            if sid in lows:
                lo, hi = np.minimum(lows[sid], lo), np.maximum(highs[sid], hi)
            lows[sid], highs[sid] = lo, hi
    return {sid: (lows[sid], highs[sid]) for sid in lows}
