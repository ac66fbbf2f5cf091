"""Staged rows to the series store, series by series: time order, frequency, gaps and
missing values.

read.py stages a file's rows as they are read (staging.py); `store_series` then takes each
series in turn: sorts it by time, infers its frequency through gaps (timegrid.py) or checks
it against data.freq, finds its missing time stamps (`Gaps`) and missing values, and
refuses, fills or drops them as data.missing says while writing it to the store (store.py).
Problems are raised as `DataError` naming the file, line and series.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import DataSpec
from lstmcli.data import timegrid
from lstmcli.data.csvfile import _col, _line, _val, setting
from lstmcli.data.recognition import Keys
from lstmcli.data.store import SeriesStore
from lstmcli.data.store import ints_of as _ints
from lstmcli.data.store import kind_of as _kind
from lstmcli.errors import DataError


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

def store_series(path: Path, spec: DataSpec, staging, keys: Keys, groups: list[tuple],
                 columns: list, notes: list[str], fallback_freq, *,
                 store_dir) -> tuple[SeriesStore, str | int | None]:
    """The staged rows, series by series (`groups`: (id, code) in the file's order): time
    order, frequency, gaps and missing values checked (a first pass keeping a few numbers
    per series), then handled while each series is written to the store (a second).
    Returns the store and the frame's frequency (`choose_freq`)."""
    from lstmcli.data.store import StoreWriter

    time_col, series_col = keys.time, keys.series
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
    return writer.finish(), freq


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

