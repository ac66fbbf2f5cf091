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
