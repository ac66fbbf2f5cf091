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

from dataclasses import dataclass

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


def window_starts(n_rows: int, *, look_back: int, horizon: int = 1, stride: int = 1) -> np.ndarray:
    """Row index of the first input step of each window made by `make_windows`."""
    n = n_windows(n_rows, look_back=look_back, horizon=horizon, stride=stride)
    return np.arange(n, dtype="int64") * stride


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


@dataclass(frozen=True)
class ChunkLayout:
    """Rows of a fixed-size batch cut into consecutive chunks, in the order `fit` needs.

    Sample i of X belongs to batch i // batch_size; batch b = g * chunks + k holds chunk k of
    row group g. Row j of batch b continues row j of batch b - 1, except at the start of a
    group (b % chunks == 0), where the recurrent state must be reset.
    """

    X: np.ndarray  # (batches * batch_size, chunk_length, features); padding steps are PAD
    Y: np.ndarray  # (batches * batch_size, chunk_length, targets): the next step's targets
    weight: np.ndarray  # (batches * batch_size, chunk_length): 1 real step, 0 padding
    batch_size: int
    chunks: int  # chunks per row group: reset the state every `chunks` batches
    groups: int
    rows: int  # real rows; the rest of the last group is padding rows
    padded_steps: int  # steps of padding at the start of the shorter rows

    @property
    def batches(self) -> int:
        return self.groups * self.chunks


def chunk_layout(rows: list[np.ndarray], *, batch_size: int, chunk_length: int,
                 feature_idx: list[int], target_idx: list[int]) -> ChunkLayout:
    """Lay out `rows` (each (steps, columns)) for stateful training on next-step targets.

    Every row is left-padded to a common length of chunks * chunk_length + 1 steps, so all
    rows end together (their most recent data aligned) and padding comes first, where the
    masked steps leave the zero initial state untouched. Row counts that do not fill the
    last batch get whole padding rows. Inputs are steps [0, n-1), targets steps [1, n).
    """
    longest = max(len(r) for r in rows)
    chunks = max(1, -(-(longest - 1) // chunk_length))
    span = chunks * chunk_length + 1
    groups = -(-len(rows) // batch_size)
    n_rows = groups * batch_size
    cols = rows[0].shape[1]
    full = np.full((n_rows, span, cols), PAD, dtype="float32")
    real = np.zeros((n_rows, span), dtype=bool)
    for i, r in enumerate(rows):
        full[i, span - len(r):] = r
        real[i, span - len(r):] = True
    X = full[:, :-1][..., feature_idx]
    Y = full[:, 1:][..., target_idx]
    weight = (real[:, :-1] & real[:, 1:]).astype("float32")
    Y[weight == 0] = 0.0  # never let a PAD target reach the loss, even times zero

    def order(a: np.ndarray) -> np.ndarray:  # (rows, span-1, ...) -> batch-major chunks
        a = a.reshape(groups, batch_size, chunks, chunk_length, *a.shape[2:])
        a = np.swapaxes(a, 1, 2)  # (groups, chunks, batch, chunk_length, ...)
        return np.ascontiguousarray(a.reshape(groups * chunks * batch_size, chunk_length,
                                              *a.shape[4:]))

    return ChunkLayout(X=order(X), Y=order(Y), weight=order(weight), batch_size=batch_size,
                       chunks=chunks, groups=groups, rows=len(rows),
                       padded_steps=int((~real[:len(rows)]).sum()))


def left_pad(rows: list[np.ndarray], n_rows: int | None = None) -> np.ndarray:
    """Stack rows of different lengths, right-aligned, with PAD in front: (n_rows, longest, F)."""
    n_rows = n_rows or len(rows)
    longest = max(len(r) for r in rows)
    out = np.full((n_rows, longest, rows[0].shape[1]), PAD, dtype="float32")
    for i, r in enumerate(rows):
        out[i, longest - len(r):] = r
    return out
