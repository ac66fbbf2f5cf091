"""Training batches cut from the series on the fly: memory does not grow with look_back.

The scaled series are stacked into one (rows, columns) float32 array; a window is just its
start row. A tf.data pipeline shuffles the start rows (a bounded buffer of integers, not
of windows), batches them, and gathers each batch's [batch, look_back, features] inputs
and targets inside the graph. Nothing of shape (samples, look_back, features) is ever
built for the whole data set.
"""

from __future__ import annotations

import numpy as np

from lstmcli.backend import import_keras


def stack_series(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One float32 array of all series' rows and each series' first row in it."""
    offsets = np.cumsum([0] + [len(r) for r in rows[:-1]]).astype("int64")
    flat = np.empty((sum(len(r) for r in rows), rows[0].shape[1]), dtype="float32")
    for off, r in zip(offsets, rows, strict=True):
        flat[off:off + len(r)] = r
    return flat, offsets


def window_dataset(flat: np.ndarray, starts: np.ndarray, *, look_back: int, horizon: int,
                   feature_idx: list[int], target_idx: list[int], per_step: bool,
                   batch_size: int, shuffle: bool, seed: int, teacher: bool = False):
    """(x, y) batches for the windows starting at rows `starts` of `flat`.

    x: (batch, look_back, features) = flat[s : s + look_back, feature_idx]
    y: (batch, horizon, targets)    = flat[s + look_back : s + look_back + horizon, target_idx]
       or, for per-step models,       flat[s + 1 : s + look_back + 1, target_idx]
    teacher=True: x becomes (window, previous targets), the latter
       flat[s + look_back - 1 : s + look_back + horizon - 1, target_idx] (teacher forcing).
    """
    import_keras()
    import tensorflow as tf  # noqa: TID253

    data = tf.constant(flat)
    x_off = tf.range(look_back, dtype=tf.int64)
    y_off = (tf.range(1, look_back + 1, dtype=tf.int64) if per_step
             else tf.range(look_back, look_back + horizon, dtype=tf.int64))
    all_cols = list(range(flat.shape[1]))
    f_idx = None if list(feature_idx) == all_cols else tf.constant(feature_idx)
    t_idx = None if list(target_idx) == all_cols else tf.constant(target_idx)

    def cut(s):
        x = tf.gather(data, s[:, None] + x_off)
        y = tf.gather(data, s[:, None] + y_off)
        if f_idx is not None:
            x = tf.gather(x, f_idx, axis=2)
        if t_idx is not None:
            y = tf.gather(y, t_idx, axis=2)
        if teacher:
            prev = tf.gather(data, s[:, None] + y_off - 1)
            prev = prev if t_idx is None else tf.gather(prev, t_idx, axis=2)
            return (x, prev), y
        return x, y

    ds = tf.data.Dataset.from_tensor_slices(np.asarray(starts, dtype="int64"))
    if shuffle:
        ds = ds.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(cut, num_parallel_calls=tf.data.AUTOTUNE,
                                    deterministic=True).prefetch(tf.data.AUTOTUNE)
