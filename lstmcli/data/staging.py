"""The rows of a CSV as read, before they become the series store: chunk by chunk in file
order, then handed out series by series (with each row's place in the file, for messages).

In memory the rows go into arrays sized from the file's line count, and a series' rows are
gathered by a stable sort of the series codes. On disk (`data.stream`) they are appended
to files in a work directory; when the file's series are not each in one block (a file
sorted by time), one more pass moves every row to its series' block, a chunk at a time.
Either way `rows_of(c)` gives the same arrays: series c's values, times and file rows in
file order, in memory. Only one series is held at a time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

BLOCK_ROWS = 1 << 20  # rows moved per read when grouping a file on disk


class Staging:
    """`add` each chunk's (values, time stamps or None, series codes or None), `finish`,
    then `rows_of(code)` for each series. In memory: arrays of n_max rows (an upper bound
    on the file's rows); with `directory`: files there (`close` deletes them)."""

    def __init__(self, n_cols: int, *, n_max: int | None = None,
                 directory: Path | None = None) -> None:
        self.n_cols, self.directory, self.n_max = n_cols, directory, n_max
        self.n = 0
        self.counts = np.zeros(0, dtype="int64")  # rows per series code
        self.in_order = True  # each series' rows are one block, series in code order
        self._last_code = -1
        self.times_kind: str | None = None  # dtype kind of the time stamps ("i" or "M")
        self.has_times = self.has_codes = False
        self._order = self._bounds = None
        if directory is None:
            self.values = np.empty((n_max, n_cols), dtype="float64")
            self.times = self.codes = None  # allocated when the file has them
        else:
            directory.mkdir(parents=True, exist_ok=True)
            self._fh = {name: (directory / f"raw_{name}").open("wb")
                        for name in ("values", "times", "codes")}

    def add(self, values: np.ndarray, times: np.ndarray | None, codes: np.ndarray | None
            ) -> None:
        k = len(values)
        if times is not None:
            self.has_times = True
            self.times_kind = times.dtype.kind
            times = times.view("int64")
        if codes is not None:
            self.has_codes = True
            if k:
                bins = np.bincount(codes, minlength=len(self.counts))
                self.counts = np.pad(self.counts, (0, len(bins) - len(self.counts))) + bins
                if self.in_order and (codes[0] < self._last_code or (np.diff(codes) < 0).any()):
                    self.in_order = False
                self._last_code = int(codes[-1])
        if self.directory is None:
            self.values[self.n:self.n + k] = values
            if times is not None:
                if self.times is None:
                    self.times = np.empty(self.n_max, dtype="int64")
                self.times[self.n:self.n + k] = times
            if codes is not None:
                if self.codes is None:
                    self.codes = np.empty(self.n_max, dtype="int64")
                self.codes[self.n:self.n + k] = codes
        else:
            self._fh["values"].write(np.ascontiguousarray(values, dtype="float64").tobytes())
            if times is not None:
                self._fh["times"].write(np.ascontiguousarray(times).tobytes())
            if codes is not None:
                self._fh["codes"].write(np.ascontiguousarray(codes, dtype="int64").tobytes())
        self.n += k

    def finish(self) -> None:
        """All rows are in: prepare handing them out by series."""
        if not self.has_codes:
            self.counts = np.array([self.n], dtype="int64")
        self._bounds = np.concatenate([[0], np.cumsum(self.counts)]).astype("int64")
        if self.directory is None:
            if self.has_codes and not self.in_order:
                self._order = np.argsort(self.codes[:self.n], kind="stable")
            return
        for fh in self._fh.values():
            fh.close()
        if self.has_codes and not self.in_order:
            self._group()

    def _group(self) -> None:
        """Move every row to its series' block (files grouped_*), reading BLOCK_ROWS at a
        time: per block, each series' rows are consecutive in its destination."""
        d, w = self.directory, self.n_cols
        starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype("int64")
        done = np.zeros(len(self.counts), dtype="int64")
        sources = {"values": (w, "float64"), "times": (1, "int64"), "rows": (1, "int64")}
        outs = {name: os.open(d / f"grouped_{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                              0o600) for name in sources}
        try:
            for a in range(0, self.n, BLOCK_ROWS):
                k = min(BLOCK_ROWS, self.n - a)
                codes = _read(d / "raw_codes", "int64", a, k, 1)
                block = {"values": _read(d / "raw_values", "float64", a, k, w),
                         "times": (_read(d / "raw_times", "int64", a, k, 1) if self.has_times
                                   else np.zeros(k, dtype="int64")),
                         "rows": np.arange(a, a + k, dtype="int64")}
                order = np.argsort(codes, kind="stable")
                cut = np.flatnonzero(np.diff(codes[order])) + 1
                for part in np.split(order, cut):
                    c = int(codes[part[0]])
                    at = int(starts[c] + done[c])
                    for name, (width, dtype) in sources.items():
                        item = np.dtype(dtype).itemsize * width
                        os.pwrite(outs[name], np.ascontiguousarray(block[name][part]).tobytes(),
                                  at * item)
                    done[c] += len(part)
        finally:
            for fd in outs.values():
                os.close(fd)

    def rows_of(self, c: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(values, times or None, file rows) of series code c (0 for a wide file)."""
        a, b = int(self._bounds[c]), int(self._bounds[c + 1])
        if self.directory is None:
            if self._order is None:  # one block: views
                return (self.values[a:b], self.times[a:b] if self.has_times else None,
                        np.arange(a, b, dtype="int64"))
            rows = self._order[a:b]
            return (self.values[rows], self.times[rows] if self.has_times else None, rows)
        d, w = self.directory, self.n_cols
        if self.has_codes and not self.in_order:
            rows = _read(d / "grouped_rows", "int64", a, b - a, 1)
            return (_read(d / "grouped_values", "float64", a, b - a, w),
                    _read(d / "grouped_times", "int64", a, b - a, 1) if self.has_times
                    else None, rows)
        return (_read(d / "raw_values", "float64", a, b - a, w),
                _read(d / "raw_times", "int64", a, b - a, 1) if self.has_times else None,
                np.arange(a, b, dtype="int64"))

    def close(self) -> None:
        """Delete the staging directory (the store keeps its own files)."""
        if self.directory is not None:
            for fh in self._fh.values():
                fh.close()
            shutil.rmtree(self.directory, ignore_errors=True)


def _read(path: Path, dtype: str, a: int, k: int, width: int) -> np.ndarray:
    item = np.dtype(dtype).itemsize * width
    out = np.fromfile(path, dtype=dtype, count=k * width, offset=a * item)
    return out.reshape(k, width) if width > 1 or dtype == "float64" else out

