"""Pure numpy: series -> [samples, time_steps, features] windows, as strided views.

For one series of rows r0, r1, r2, ... with look_back=3, horizon=1, stride=1:

    sample | X (time steps)  | y
    -------+-----------------+----
       0   | r0  r1  r2      | r3
       1   | r1  r2  r3      | r4
       2   | r2  r3  r4      | r5

That is the classic `create_dataset(series, look_back)` (and `split_x(seq, look_back + 1)`)
with every window kept: a series of N rows gives N - look_back samples. (The widely copied
`create_dataset` loops over `range(len(dataset) - look_back - 1)` and so drops the last
valid window; lstmcli keeps it.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def n_windows(n_rows: int, *, look_back: int, horizon: int = 1, stride: int = 1) -> int:
    """How many (input, target) windows fit in `n_rows` rows."""
    span = n_rows - look_back - horizon
    return 0 if span < 0 else span // stride + 1


def input_windows(values: np.ndarray, *, look_back: int, stride: int = 1) -> np.ndarray:
    """Every `look_back`-row input window of `values` (rows, features), including the last one.

    Returns a read-only strided view of shape (samples, look_back, features); no copy.
    """
    if len(values) < look_back:
        return np.empty((0, look_back, values.shape[1]), dtype=values.dtype)
    view = sliding_window_view(values, look_back, axis=0)  # (rows-L+1, features, L)
    return view.transpose(0, 2, 1)[::stride]


def make_windows(values: np.ndarray, *, look_back: int, horizon: int = 1, stride: int = 1,
                 feature_idx: list[int] | None = None, target_idx: list[int] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Cut `values` (rows, columns) into inputs and the targets that follow them.

    Returns X (samples, look_back, features) and y (samples, horizon, targets). X and y are
    views of `values` when all columns are used; selecting columns copies only the selection.

    >>> X, y = make_windows(np.arange(6.0)[:, None], look_back=3)
    >>> X[:, :, 0].tolist(), y[:, :, 0].tolist()
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]], [[3.0], [4.0], [5.0]])
    """
    n = n_windows(len(values), look_back=look_back, horizon=horizon, stride=stride)
    cols = values.shape[1]
    X = input_windows(values, look_back=look_back, stride=stride)[:n]
    if n == 0:
        y = np.empty((0, horizon, cols), dtype=values.dtype)
    else:
        y = sliding_window_view(values[look_back:], horizon, axis=0).transpose(0, 2, 1)
        y = y[::stride][:n]
    if feature_idx is not None and list(feature_idx) != list(range(cols)):
        X = X[..., feature_idx]
    if target_idx is not None and list(target_idx) != list(range(cols)):
        y = y[..., target_idx]
    return X, y


def edge_padded(rows: np.ndarray, length: int) -> np.ndarray:
    """`rows` with its first row repeated in front up to `length` rows (window.min_input: a
    window that starts before its series sees the series' first value there).

    >>> edge_padded(np.array([[5.0], [6.0]]), 4)[:, 0].tolist()
    [5.0, 5.0, 5.0, 6.0]
    """
    short = length - len(rows)
    if short <= 0:
        return rows
    return np.concatenate([np.repeat(rows[:1], short, axis=0), rows])


def window_starts(n_rows: int, *, look_back: int, horizon: int = 1, stride: int = 1) -> np.ndarray:
    """Row index of the first input step of each window made by `make_windows`."""
    n = n_windows(n_rows, look_back=look_back, horizon=horizon, stride=stride)
    return np.arange(n, dtype="int64") * stride


def recent(starts: np.ndarray, *, end: int, span: int, history: int | None) -> np.ndarray:
    """Which windows (first rows `starts`, `span` rows each: look_back + horizon) end within
    the last `history` rows before row `end` (window.history): the most recent ones. All of
    them when history is None."""
    if history is None:
        return np.ones(len(starts), dtype=bool)
    return starts + span > end - history


# ------------------------------------------------------------------- stateful layout

PAD = -1e30  # value of padding steps; the model's Masking layer skips them (state unchanged)


def split_segments(values: np.ndarray, n: int) -> tuple[list[np.ndarray], int]:
    """Cut one long series into `n` contiguous segments, one per batch row.

    Consecutive segments share one boundary row, so every step-to-step transition after
    the trimmed start is a training target exactly once. Returns the segments and the
    number of (oldest) rows trimmed so that all segments have the same length.

    >>> segs, trimmed = split_segments(np.arange(10.0)[:, None], 3)
    >>> [s[:, 0].tolist() for s in segs], trimmed
    ([[0.0, 1.0, 2.0, 3.0], [3.0, 4.0, 5.0, 6.0], [6.0, 7.0, 8.0, 9.0]], 0)
    """
    bounds, trimmed = segment_bounds(len(values), n)
    return [values[a:b] for a, b in bounds], trimmed


def segment_bounds(n_rows: int, n: int) -> tuple[list[tuple[int, int]], int]:
    """`split_segments` as row ranges: the [start, stop) of each segment, and the number of
    oldest rows trimmed."""
    steps = (n_rows - 1) // n  # transitions per segment
    trimmed = (n_rows - 1) - steps * n
    return [(trimmed + steps * j, trimmed + steps * j + steps + 1) for j in range(n)], trimmed


def read_rows(flat: np.ndarray, a: int, b: int) -> np.ndarray:
    """flat[a:b]; for an np.memmap, read from its file instead (pread): the mapping is never
    touched, so no page of it stays in the process's memory."""
    if not isinstance(flat, np.memmap):
        return flat[a:b]
    row = flat.shape[1] * flat.dtype.itemsize
    with open(flat.filename, "rb", buffering=0) as fh:
        data = os.pread(fh.fileno(), (b - a) * row, a * row)
    return np.frombuffer(data, dtype=flat.dtype).reshape(b - a, flat.shape[1])


class Rows:
    """Rows of different lengths, each a [start, stop) span of one array (the scaled
    series stacked): in memory, or a file (an np.memmap, read by `read_rows`)."""

    def __init__(self, flat: np.ndarray, spans: list[tuple[int, int]]) -> None:
        self.flat, self.spans = flat, spans

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, i: int) -> np.ndarray:
        return read_rows(self.flat, *self.spans[i])

    def lengths(self) -> list[int]:
        return [b - a for a, b in self.spans]

    def piece(self, i: int, a: int, b: int) -> np.ndarray:
        """Rows a..b-1 of row i."""
        start = self.spans[i][0]
        return read_rows(self.flat, start + a, start + b)


def _piece(rows, i: int, a: int, b: int) -> np.ndarray:
    return rows.piece(i, a, b) if hasattr(rows, "piece") else rows[i][a:b]


def padded_block(rows, lengths: list[int], start: int, stop: int, columns: list[int]
                 ) -> np.ndarray:
    """Steps start..stop-1 of `left_pad`'s result for rows of these lengths, without
    building the rest: (rows, stop - start, len(columns)). rows: a list of arrays, or
    anything with `piece(i, a, b)` (`Rows`, or a frame's scaled series)."""
    longest = max(lengths)
    out = np.full((len(lengths), stop - start, len(columns)), PAD, dtype="float32")
    for i, n in enumerate(lengths):
        first = longest - n  # where row i's data starts
        a = max(start, first)
        if a < stop:
            out[i, a - start:] = _piece(rows, i, a - first, stop - first)[:, columns]
    return out


@dataclass(frozen=True)
class ChunkLayout:
    """Rows of a fixed-size batch cut into consecutive chunks, in the order `fit` needs.

    Batch b = g * chunks + k holds chunk k of row group g (`batch(b)`, cut when asked for:
    nothing of the layout's size is built). Row j of batch b continues row j of batch
    b - 1, except at the start of a group (b % chunks == 0), where the recurrent state must
    be reset. `X`, `Y`, `weight` stack every batch (sample i in batch i // batch_size).
    """

    source: object  # the rows: a list of (steps, columns) arrays, or `Rows`
    lengths: tuple
    batch_size: int
    chunk_length: int
    chunks: int  # chunks per row group: reset the state every `chunks` batches
    groups: int
    feature_idx: tuple
    target_idx: tuple

    @property
    def batches(self) -> int:
        return self.groups * self.chunks

    @property
    def rows(self) -> int:  # real rows; the rest of the last group is padding rows
        return len(self.lengths)

    @property
    def span(self) -> int:
        return self.chunks * self.chunk_length + 1

    @property
    def padded_steps(self) -> int:  # steps of padding at the start of the shorter rows
        return sum(self.span - n for n in self.lengths)

    def batch(self, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, weight) of batch b: x (batch_size, chunk_length, features) with PAD on
        padding steps, y the next step's targets (0 where padding), weight 1 real / 0."""
        B, C, span = self.batch_size, self.chunk_length, self.span
        g, k = divmod(b, self.chunks)
        lo = k * C  # the batch covers steps [lo, lo + C] of the left-padded rows
        rows = self.source
        cols = rows.flat.shape[1] if isinstance(rows, Rows) else rows[0].shape[1]
        full = np.full((B, C + 1, cols), PAD, dtype="float32")
        real = np.zeros((B, C + 1), dtype=bool)
        for j in range(B):
            i = g * B + j
            if i >= len(self.lengths):
                break
            first = span - self.lengths[i]  # where the row's data starts
            a = max(lo, first)
            if a < lo + C + 1:
                full[j, a - lo:] = _piece(rows, i, a - first, lo + C + 1 - first)
                real[j, a - lo:] = True
        x = full[:, :-1][..., list(self.feature_idx)]
        y = full[:, 1:][..., list(self.target_idx)]
        weight = (real[:, :-1] & real[:, 1:]).astype("float32")
        y[weight == 0] = 0.0  # never let a PAD target reach the loss, even times zero
        return x, y, weight

    def _stacked(self, part: int) -> np.ndarray:
        return np.concatenate([self.batch(b)[part] for b in range(self.batches)])

    @cached_property
    def X(self) -> np.ndarray:  # noqa: N802 - (batches * batch_size, chunk_length, features)
        return self._stacked(0)

    @cached_property
    def Y(self) -> np.ndarray:  # noqa: N802
        return self._stacked(1)

    @cached_property
    def weight(self) -> np.ndarray:
        return self._stacked(2)


def chunk_layout(rows, *, batch_size: int, chunk_length: int,
                 feature_idx: list[int], target_idx: list[int]) -> ChunkLayout:
    """Lay out `rows` (each (steps, columns); a list, or `Rows`) for stateful training on
    next-step targets.

    Every row is left-padded to a common length of chunks * chunk_length + 1 steps, so all
    rows end together (their most recent data aligned) and padding comes first, where the
    masked steps leave the zero initial state untouched. Row counts that do not fill the
    last batch get whole padding rows. Inputs are steps [0, n-1), targets steps [1, n).
    """
    lengths = tuple(rows.lengths() if isinstance(rows, Rows) else (len(r) for r in rows))
    chunks = max(1, -(-(max(lengths) - 1) // chunk_length))
    return ChunkLayout(source=rows, lengths=lengths, batch_size=batch_size,
                       chunk_length=chunk_length, chunks=chunks,
                       groups=-(-len(lengths) // batch_size),
                       feature_idx=tuple(feature_idx), target_idx=tuple(target_idx))


def left_pad(rows: list[np.ndarray], n_rows: int | None = None) -> np.ndarray:
    """Stack rows of different lengths, right-aligned, with PAD in front: (n_rows, longest, F);
    rows beyond len(rows) are all PAD."""
    lengths = [len(r) for r in rows]
    out = padded_block(rows, lengths, 0, max(lengths), list(range(rows[0].shape[1])))
    extra = (n_rows or len(rows)) - len(rows)
    if extra:
        out = np.concatenate([out, np.full((extra, *out.shape[1:]), PAD, dtype="float32")])
    return out
