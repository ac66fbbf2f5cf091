"""Training batches cut from the series on the fly: memory does not grow with look_back.

The scaled series are stacked into one (rows, columns) float32 array; a window is just its
start row. A tf.data pipeline shuffles the start rows (a bounded buffer of integers, not
of windows), batches them, and gathers each batch's [batch, look_back, features] inputs
and targets inside the graph. Nothing of shape (samples, look_back, features) is ever
built for the whole data set.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from lstmcli.models.backend import import_keras


def stack_series(lengths: list[int], n_cols: int, rows, directory: Path | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One float32 array of all series' rows (`rows` yields them, of `lengths`) and each
    series' first row in it. With `directory` (a store on disk) the array is a file there,
    returned as a read-only np.memmap that is never indexed: its readers (`window_dataset`,
    `windows.read_rows`) read the file with pread, so no page of it stays mapped."""
    offsets = np.cumsum([0] + list(lengths[:-1])).astype("int64")
    shape = (int(sum(lengths)), n_cols)
    if directory is None:
        flat = np.empty(shape, dtype="float32")
        for off, r in zip(offsets, rows, strict=True):
            flat[off:off + len(r)] = r
        return flat, offsets
    fd, name = tempfile.mkstemp(prefix="windows-", suffix=".f32", dir=directory)
    with os.fdopen(fd, "wb") as fh:
        for r in rows:
            fh.write(np.ascontiguousarray(r, dtype="float32").tobytes())
    if not shape[0]:
        return np.empty(shape, dtype="float32"), offsets
    return np.memmap(name, dtype="float32", mode="r", shape=shape), offsets


def _window_reader(flat: np.ndarray, width: int):
    """starts (batch,) -> flat[s : s + width] for each start, (batch, width, columns), as a
    graph op. In memory: tf.gather on a constant. On disk: one read (pread) per window, so
    nothing of the file is mapped into the process and an epoch's pages never add up."""
    import tensorflow as tf  # noqa: TID253

    steps = tf.range(width, dtype=tf.int64)
    if not isinstance(flat, np.memmap):
        data = tf.constant(flat)
        return lambda s: tf.gather(data, s[:, None] + steps)
    name, n_cols = flat.filename, flat.shape[1]
    row = n_cols * flat.dtype.itemsize

    def windows(starts: np.ndarray) -> np.ndarray:
        out = np.empty((len(starts), width, n_cols), dtype="float32")
        with open(name, "rb", buffering=0) as fh:
            for i, s in enumerate(starts.tolist()):
                out[i] = np.frombuffer(os.pread(fh.fileno(), width * row, s * row),
                                       dtype="float32").reshape(width, n_cols)
        return out

    def read(s):
        out = tf.numpy_function(windows, [s], tf.float32, stateful=False)
        return tf.ensure_shape(out, [None, width, n_cols])

    return read


def window_dataset(flat: np.ndarray, starts: np.ndarray, *, look_back: int, horizon: int,
                   feature_idx: list[int], target_idx: list[int], per_step: bool,
                   batch_size: int, shuffle: bool, seed: int, teacher: bool = False,
                   weights: np.ndarray | None = None):
    """(x, y) batches for the windows starting at rows `starts` of `flat`.

    x: (batch, look_back, features) = flat[s : s + look_back, feature_idx]
    y: (batch, horizon, targets)    = flat[s + look_back : s + look_back + horizon, target_idx]
       or, for per-step models,       flat[s + 1 : s + look_back + 1, target_idx]
    teacher=True: x becomes (window, previous targets), the latter
       flat[s + look_back - 1 : s + look_back + horizon - 1, target_idx] (teacher forcing).
    weights: one per start, given to the loss as (x, y, weight) batches.
    """
    import_keras()
    import tensorflow as tf  # noqa: TID253

    y_from = 1 if per_step else look_back  # the first target row, after s
    y_steps = look_back if per_step else horizon
    read = _window_reader(flat, max(look_back, y_from + y_steps))  # one span per window
    all_cols = list(range(flat.shape[1]))
    f_idx = None if list(feature_idx) == all_cols else tf.constant(feature_idx)
    t_idx = None if list(target_idx) == all_cols else tf.constant(target_idx)

    def cut(s):
        span = read(s)
        x = span[:, :look_back]
        y = span[:, y_from:y_from + y_steps]
        if f_idx is not None:
            x = tf.gather(x, f_idx, axis=2)
        if t_idx is not None:
            y = tf.gather(y, t_idx, axis=2)
        if teacher:
            prev = span[:, y_from - 1:y_from - 1 + y_steps]
            prev = prev if t_idx is None else tf.gather(prev, t_idx, axis=2)
            return (x, prev), y
        return x, y

    starts = np.asarray(starts, dtype="int64")
    if weights is None:
        ds = tf.data.Dataset.from_tensor_slices(starts)
    else:
        ds = tf.data.Dataset.from_tensor_slices((starts, np.asarray(weights, dtype="float32")))
    if shuffle:
        ds = ds.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True)
    batches = ds.batch(batch_size)
    batches = (batches.map(cut, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               if weights is None else
               batches.map(lambda s, w: (*cut(s), w[:, None]), num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True))
    return batches.prefetch(tf.data.AUTOTUNE)


def chunk_dataset(layout, *, last_only: bool):
    """A tf.data pipeline of a stateful `windows.ChunkLayout`'s batches (x, y, weight), in
    order, each cut as the pipeline reaches it (shapes fixed: a stateful model's batch
    size is part of it); last_only: only each chunk's last target (many_to_one)."""
    import_keras()
    import tensorflow as tf  # noqa: TID253

    B, C = layout.batch_size, layout.chunk_length
    steps = 1 if last_only else C

    def batches():
        for b in range(layout.batches):
            x, y, w = layout.batch(b)
            yield (x, y[:, -1:], w[:, -1:]) if last_only else (x, y, w)

    spec = (tf.TensorSpec((B, C, len(layout.feature_idx)), tf.float32),
            tf.TensorSpec((B, steps, len(layout.target_idx)), tf.float32),
            tf.TensorSpec((B, steps), tf.float32))
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(layout.batches)).prefetch(2)


def sequence_batches(rows: list[np.ndarray], *, batch_size: int, padding: bool,
                     feature_idx: list[int], target_idx: list[int]) -> list[tuple]:
    """Whole sequences as (x, y, weight) batches for next-step training.

    Without padding, only sequences of equal length share a batch (no padding at all);
    with padding, consecutive sequences share a batch, padded at the end to the longest
    (masked, weight 0). x = seq[:-1], y = seq[1:].
    """
    from lstmcli.training.windows import PAD

    if padding:
        groups = [list(range(i, min(i + batch_size, len(rows))))
                  for i in range(0, len(rows), batch_size)]
    else:
        by_length: dict[int, list[int]] = {}
        for i, r in enumerate(rows):
            by_length.setdefault(len(r), []).append(i)
        groups = [idx[i:i + batch_size] for idx in by_length.values()
                  for i in range(0, len(idx), batch_size)]
    batches = []
    for idx in groups:
        longest = max(len(rows[i]) for i in idx)
        full = np.full((len(idx), longest, rows[0].shape[1]), PAD, dtype="float32")
        real = np.zeros((len(idx), longest), dtype=bool)
        for k, i in enumerate(idx):
            full[k, :len(rows[i])] = rows[i]
            real[k, :len(rows[i])] = True
        x = full[:, :-1][..., feature_idx]
        y = full[:, 1:][..., target_idx]
        w = (real[:, :-1] & real[:, 1:]).astype("float32")
        y[w == 0] = 0.0
        batches.append((x, y, w))
    return batches


def sequence_dataset(batches: list[tuple], *, shuffle: bool, seed: int):
    """A keras PyDataset over prepared batches, in a new seeded order each epoch."""
    keras = import_keras()

    class Sequences(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = np.arange(len(batches))
            self._shuffle()

        def _shuffle(self):
            if shuffle:
                self.order = self.rng.permutation(len(batches))

        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[self.order[i]]

        def on_epoch_end(self):
            self._shuffle()

    return Sequences()
