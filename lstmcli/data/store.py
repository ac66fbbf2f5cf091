"""The series store: every row of every series in one values array plus offsets.

    values[indptr[i]:indptr[i + 1]]   the rows of series i, (rows, columns) float64
    times[indptr[i]:indptr[i + 1]]    their time stamps, int64 (nanoseconds for dates,
                                      kind "M"; step numbers, kind "i")

This is the one representation every feature runs on (the layout of Nixtla's
`GroupedArray`). It lives in memory, or, for `data.stream: true`, in two files of a work
directory that are memory-mapped on access: a series' rows are mapped when they are asked
for and unmapped when the caller lets them go, so a pass over the whole store never holds
more than the series in hand (peak memory does not follow the file's size).

`StoreWriter` builds a store series by series, in the same order wherever it lives;
`Series` is one series' view of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

VALUES, TIMES = "values.f64", "times.i64"


class SeriesStore:
    """Series ids, offsets and stamp kind in memory; values and times in memory or on disk."""

    def __init__(self, ids: list[str], indptr: np.ndarray, n_cols: int, kind: str, *,
                 values: np.ndarray | None = None, times: np.ndarray | None = None,
                 directory: Path | None = None) -> None:
        self.ids, self.indptr, self.n_cols, self.kind = ids, indptr, n_cols, kind
        self._values, self._times, self.directory = values, times, directory

    @property
    def on_disk(self) -> bool:
        return self.directory is not None

    @property
    def n_rows(self) -> int:
        return int(self.indptr[-1])

    def __len__(self) -> int:
        return len(self.ids)

    def length(self, i: int) -> int:
        return int(self.indptr[i + 1] - self.indptr[i])

    def _map(self, name: str, dtype: str, a: int, b: int, width: int | None):
        shape = (b - a,) if width is None else (b - a, width)
        if b == a:
            return np.empty(shape, dtype=dtype)
        item = np.dtype(dtype).itemsize * (width or 1)
        return np.memmap(self.directory / name, dtype=dtype, mode="r+", offset=a * item,
                         shape=shape)

    def values_of(self, i: int) -> np.ndarray:
        """The rows of series i: a view (in memory) or a mapping of them (on disk); writing
        into it writes the store."""
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        if self._values is not None:
            return self._values[a:b]
        return self._map(VALUES, "float64", a, b, self.n_cols)

    def times_of(self, i: int) -> np.ndarray:
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        if self._times is not None:
            return self._times[a:b]
        return np.array(self._map(TIMES, "int64", a, b, None))

    def ds_of(self, i: int) -> pd.Index:
        """Series i's time index: a DatetimeIndex (kind "M") or integer steps."""
        t = self.times_of(i)
        if self.kind == "M":
            return pd.DatetimeIndex(t.view("datetime64[ns]"))
        return pd.Index(t)

    def series(self) -> list[Series]:
        return [Series(self, i) for i in range(len(self.ids))]


class Series:
    """One series of a store: `id`, `ds` (time index), `values` (rows, columns)."""

    __slots__ = ("store", "i", "_ds")

    def __init__(self, store: SeriesStore, i: int) -> None:
        self.store, self.i, self._ds = store, i, None

    @property
    def id(self) -> str:
        return self.store.ids[self.i]

    @property
    def values(self) -> np.ndarray:
        return self.store.values_of(self.i)

    @property
    def ds(self) -> pd.Index:
        if self.store.on_disk:  # not kept: a pass over every series holds one at a time
            return self.store.ds_of(self.i)
        if self._ds is None:
            self._ds = self.store.ds_of(self.i)
        return self._ds

    def __len__(self) -> int:
        return self.store.length(self.i)

    def __repr__(self) -> str:
        return f"Series({self.id!r}, {len(self)} rows)"


def kind_of(ds: pd.Index) -> str:
    """"M" for time stamps, "i" for step numbers."""
    return "M" if isinstance(ds, pd.DatetimeIndex) else "i"


def ints_of(ds: pd.Index) -> np.ndarray:
    """A time index as int64: nanoseconds for stamps, else the step numbers."""
    return ds.as_unit("ns").asi8 if isinstance(ds, pd.DatetimeIndex) else \
        np.asarray(ds, dtype="int64")


class StoreWriter:
    """Appends series one by one; `finish()` gives the store. `directory` None: in memory;
    else the values and times are written to files there (created, or replaced)."""

    def __init__(self, n_cols: int, directory: Path | None = None) -> None:
        self.n_cols, self.directory = n_cols, directory
        self.ids: list[str] = []
        self.lengths: list[int] = []
        self.kind = "i"
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._files = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._files = ((directory / VALUES).open("wb"), (directory / TIMES).open("wb"))

    def add(self, sid: str, ds: pd.Index, values: np.ndarray) -> None:
        times, self.kind = ints_of(ds), kind_of(ds)
        values = np.asarray(values, dtype="float64").reshape(len(times), self.n_cols)
        self.ids.append(str(sid))
        self.lengths.append(len(times))
        if self._files is None:
            self._parts.append((values, times))
        else:
            self._files[0].write(np.ascontiguousarray(values).tobytes())
            self._files[1].write(np.ascontiguousarray(times).tobytes())

    def finish(self) -> SeriesStore:
        indptr = np.concatenate([[0], np.cumsum(self.lengths, dtype="int64")]).astype("int64")
        if self._files is not None:
            for fh in self._files:
                fh.close()
            return SeriesStore(self.ids, indptr, self.n_cols, self.kind,
                               directory=self.directory)
        if len(self._parts) == 1:
            values, times = self._parts[0]
            values = np.ascontiguousarray(values)
        else:
            values = (np.concatenate([v for v, _ in self._parts]) if self._parts
                      else np.empty((0, self.n_cols)))
            times = (np.concatenate([t for _, t in self._parts]) if self._parts
                     else np.empty(0, dtype="int64"))
        self._parts = []
        return SeriesStore(self.ids, indptr, self.n_cols, self.kind, values=values,
                           times=times)


def temporary_directory() -> Path:
    """A new directory for a store that outlives no command (`removed_with`)."""
    return Path(tempfile.mkdtemp(prefix="lstmcli-store-"))


def removed_with(store: SeriesStore, directory: Path) -> SeriesStore:
    """Remove `directory` when `store` is let go (or at exit)."""
    weakref.finalize(store, shutil.rmtree, directory, True)
    return store


def store_of(series: list[tuple[str, pd.Index, np.ndarray]], n_cols: int,
             directory: Path | None = None) -> SeriesStore:
    """A store of (id, ds, values) triples, in this order."""
    writer = StoreWriter(n_cols, directory)
    for sid, ds, values in series:
        writer.add(sid, ds, values)
    return writer.finish()


def mapped(store: SeriesStore, change, n_cols: int) -> SeriesStore:
    """A new store of `change(series) -> values` for each series (same stamps), where the
    store lives: in memory, or in its directory (its files are replaced once the new ones
    are complete; the old store must not be used after)."""
    if not store.on_disk:
        return store_of([(s.id, s.ds, change(s)) for s in store.series()], n_cols)
    staged = store.directory / "next"
    new = store_of([(s.id, s.ds, change(s)) for s in store.series()], n_cols, staged)
    for name in (VALUES, TIMES):
        os.replace(staged / name, store.directory / name)
    staged.rmdir()
    return SeriesStore(new.ids, new.indptr, n_cols, new.kind, directory=store.directory)
