"""Stateful models on a CSV larger than memory: training batches, validation, warm-up and
rollout, all read in strict time order with `lockstep`.

The batches are those of `layouts.stateful_layout` (`windows.chunk_layout`), in the same
order: row group g, chunk k, one row per series (or segment of one long series), each row
right-aligned to the longest row with masked padding in front, padding rows in a short last
group. Row j of batch k continues row j of batch k - 1 and the state is reset every
`chunks` batches, so training on the stream equals training in memory. Only one group's
current chunk is ever held (plus each row's read buffer).

Validation and rollout run an inference twin with one batch row per series of a group:
the history goes through it in blocks of `stateful.STEP_BLOCK` steps, never whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lstmcli.config import Config
from lstmcli.errors import DataError
from lstmcli.lockstep import Plan, Span, group_steps, groups_of, plan, row_spans
from lstmcli.scaling import Scaler
from lstmcli.stateful import STEP_BLOCK, check_rows, inference_twin, loss_terms
from lstmcli.train import TrainData
from lstmcli.windows import PAD


def chunk_batches(sf, scaler: Scaler, groups: list[list[Span]], *, chunks: int,
                  chunk_length: int, batch_size: int, how: Plan, last_only: bool
                  ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(x, y, weight) for every batch of an epoch, in `windows.chunk_layout`'s order:
    x (B, C, features), y (B, C, targets) next-step targets (the last step only with
    `last_only`), weight 0 where the input or target is padding."""
    C, length = chunk_length, chunks * chunk_length + 1
    f_idx, t_idx = sf.feature_idx, sf.target_idx
    for group in groups:
        steps = np.empty((batch_size, 0, len(sf.columns)), dtype="float32")
        for block in group_steps(sf, scaler, group, length=length, block=C, n_rows=batch_size,
                                 how=how):
            steps = np.concatenate([steps, block], axis=1)
            while steps.shape[1] >= C + 1:  # a chunk: C inputs and the C steps after them
                real = steps[:, :C + 1, 0] != PAD
                x, y = steps[:, :C][..., f_idx], steps[:, 1:C + 1][..., t_idx].copy()
                weight = (real[:, :C] & real[:, 1:]).astype("float32")
                y[weight == 0] = 0.0  # never let a PAD target reach the loss, even times zero
                if last_only:
                    y, weight = y[:, -1:], weight[:, -1:]
                yield x, y, weight
                steps = steps[:, C:]  # the last step is the next chunk's first input


def stateful_stream_layout(sf, config: Config, used: list, scaler: Scaler
                           ) -> tuple[TrainData, list[str]]:
    """`layouts.stateful_layout` for a streamed file: the same batches, read in lockstep
    every epoch. `used`: the (series, training rows) pairs `stream.fit_scaler` chose."""
    from lstmcli.backend import import_keras
    from lstmcli.stateful import training_callbacks
    from lstmcli.stream import guarded

    import_keras()
    import tensorflow as tf  # noqa: TID253

    B, C = config.training.batch_size, config.chunk_length
    notes: list[str] = []
    spans, trimmed = row_spans([(s.id, n) for s, n in used], B)
    if len(used) == 1 and B > 1:
        if len(spans[0]) < C + 1:
            raise DataError(f"{sf.path}: {used[0][1]} training rows split into "
                            f"training.batch_size {B} segments leaves {len(spans[0])} rows "
                            f"per segment, less than chunk_length {C} + 1; lower "
                            "training.batch_size or training.chunk_length")
        notes.append(f"one series split into {B} contiguous segments of {len(spans[0])} "
                     f"rows, one per batch row" + (f"; the oldest {trimmed} row(s) trimmed"
                                                   if trimmed else ""))
    longest = max(len(s) for s in spans)
    chunks = max(1, -(-(longest - 1) // C))
    groups = groups_of(spans, B)
    padding_rows = len(groups) * B - len(spans)
    if padding_rows:
        notes.append(f"{len(spans)} rows in batches of {B}: {padding_rows} padding row(s) in "
                     "the last batch, masked and excluded from the loss" +
                     (f"; training.batch_size: {len(spans)} would avoid them"
                      if len(spans) < B else ""))
    validates = config.training.validation > 0
    val_spans = _whole(sf, {s.id for s, _ in used}) if validates else []
    how = plan(sf, spans + val_spans)  # one pass over the bytes finds where all of them start
    last_only = config.model.topology == "many_to_one"
    n_f, n_t, out = len(sf.features), len(sf.targets), 1 if last_only else C
    signature = (tf.TensorSpec((B, C, n_f), tf.float32), tf.TensorSpec((B, out, n_t), tf.float32),
                 tf.TensorSpec((B, out), tf.float32))

    def batches():
        return chunk_batches(sf, scaler, groups, chunks=chunks, chunk_length=C, batch_size=B,
                             how=how, last_only=last_only)

    n_batches = len(groups) * chunks
    ds = tf.data.Dataset.from_generator(guarded(batches), output_signature=signature)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)
    callbacks = training_callbacks(chunks=chunks, config=config, val_rows=None, train_steps=[],
                                   feature_idx=sf.feature_idx, target_idx=sf.target_idx)
    if validates:
        callbacks.append(validation_callback(sf, scaler, config, used, val_spans, how))
    n = n_batches * B
    data = TrainData(x=ds, y=None, batch_size=B, shuffle=False, callbacks=callbacks,
                     validates_itself=validates, n_train=n, x_shape=[n, C, n_f],
                     y_shape=[n, out, n_t], steps_per_execution=1)
    notes.append(f"stateful layout: {len(spans)} row(s) x {chunks} chunks of {C} steps, "
                 f"{len(groups)} row group(s) of {B}; state reset every {chunks} batches")
    notes.append(f"streaming {sf.path} in strict order: {how.note}; every epoch reads the "
                 "file again")
    if how.seek is None and len(groups) > 1:
        again = " (and as often again to validate)" if config.training.validation > 0 else ""
        notes.append(f"{len(groups)} row groups read in one pass each: every epoch reads the "
                     f"file {len(groups)} times{again}; with each series' rows together "
                     "(sorted by series, one row per line) every batch row gets its own reader "
                     "and an epoch reads it about once")
    return data, notes


# ---------------------------------------------------------------- whole histories


def _whole(sf, ids: set[str] | None = None) -> list[Span]:
    """Every series' (or those in `ids`) whole kept history, one span each."""
    return [Span(s.id, 0, s.n_rows) for s in sf.series
            if s.n_rows and (ids is None or s.id in ids)]


def _history_pairs(sf, scaler: Scaler, twin, group: list[Span], *, length: int, how: Plan
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Reset `twin`, then run the group's histories through it block by block. Per block:
    (steps, predictions, values): the padded steps whose prediction (the output after the
    step before) and value are both at hand, (k,); those predictions (rows, k, targets),
    scaled; and those steps' values as in the file (rows, k, columns; PAD before a row's
    data). Output t predicts step t + 1, so each block's last output is paired with the
    next block's first step."""
    from lstmcli.topology import reset_states

    f_idx = sf.feature_idx
    shift, scale = scaler.shift[f_idx], scaler.scale[f_idx]
    reset_states(twin)
    prev, a = None, 0  # the previous block's last output: it predicts this block's first step
    for raw in group_steps(sf, None, group, length=length, block=STEP_BLOCK,
                           n_rows=twin.inputs[0].shape[0], how=how):
        real = raw[..., 0] != PAD
        x = np.full((*raw.shape[:2], len(f_idx)), PAD, dtype="float32")
        x[real] = (raw[real][:, f_idx] - shift) / scale  # as group_steps scales
        check_rows(twin, x)
        out = np.asarray(twin.predict_on_batch(x))
        k = raw.shape[1]
        preds = out[:, :-1] if prev is None else np.concatenate([prev, out[:, :-1]], axis=1)
        steps = np.arange(a + (prev is None), a + k)
        yield steps, preds, raw[:, steps - a]
        prev, a = out[:, -1:], a + k


def twin_for(config: Config, sf, weights, n_series: int):
    """An inference twin with one batch row per series of a group (at most the training
    batch size, at least 1)."""
    rows = max(1, min(n_series, config.training.batch_size))
    return inference_twin(config, n_rows=rows, n_features=len(sf.features),
                          n_targets=len(sf.targets), weights=weights)


def validation_callback(sf, scaler: Scaler, config: Config, used: list, spans: list[Span],
                        how: Plan):
    """val_loss as `stateful.training_callbacks` computes it (warm up on each series'
    training rows, score its validation tail), read group by group from the stream.
    spans: each used series' whole history; how: a plan that covers them."""
    from lstmcli.backend import import_keras

    keras = import_keras()
    n_train = {s.id: n for s, n in used}
    length = max(len(s) for s in spans)
    kind, t_idx = config.training.loss, sf.target_idx
    t_shift, t_scale = scaler.shift[t_idx], scaler.scale[t_idx]

    class StreamedValidation(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.twin = None

        def on_epoch_end(self, epoch, logs=None):
            if self.twin is None:
                self.twin = twin_for(config, sf, self.model.get_weights(), len(spans))
            else:
                self.twin.set_weights(self.model.get_weights())
            total, count = 0.0, 0
            for group in groups_of(spans, self.twin.inputs[0].shape[0]):
                offs = np.array([length - len(s) for s in group])
                first = offs + np.array([n_train[s.sid] for s in group])  # first tail step
                for steps, preds, rows in _history_pairs(sf, scaler, self.twin, group,
                                                         length=length, how=how):
                    use = steps[None, :] >= first[:, None]  # the validation tails
                    if use.any():
                        truth = (rows[:len(group)][use][:, t_idx] - t_shift) / t_scale
                        err = preds[:len(group)][use] - truth
                        terms = loss_terms(kind, err)
                        total, count = total + float(terms.sum()), count + terms.size
            if logs is not None:
                logs["val_loss"] = total / max(count, 1)

    return StreamedValidation()


def _histories(sf, bundle) -> tuple[list[Span], int, Plan, object]:
    """Every series' whole history as a span, their longest length, how they are read, and
    an inference twin of the run's model."""
    spans = _whole(sf)
    if not spans:
        raise DataError(f"{sf.path}: no series has a row left to warm the state up on")
    twin = twin_for(bundle.config, sf, bundle.model.get_weights(), len(spans))
    return spans, max(len(s) for s in spans), plan(sf, spans), twin


def rollout(sf, bundle, *, horizon: int, feedback: list[int], exo: np.ndarray | None = None
            ) -> np.ndarray:
    """`stateful.warm_up_rollout` for a streamed file: each group's whole histories run
    through the twin block by block, then its predictions are fed back `horizon` steps,
    without a reset. exo: (series, horizon, features) known future inputs, as there.
    Returns (series with rows, horizon, targets), scaled, in file order."""
    from lstmcli.forecast import stateful_rollout
    from lstmcli.topology import reset_states

    spans, length, how, twin = _histories(sf, bundle)
    n_rows = twin.inputs[0].shape[0]
    preds = []
    for g, group in enumerate(groups_of(spans, n_rows)):
        reset_states(twin)
        blocks = group_steps(sf, bundle.scaler, group, length=length, block=STEP_BLOCK,
                             n_rows=n_rows, how=how)
        last = next(blocks)
        for block in blocks:  # all but the last block only move the state on
            x = last[..., sf.feature_idx]
            check_rows(twin, x)
            twin.predict_on_batch(x)
            last = block
        x = last[..., sf.feature_idx]
        check_rows(twin, x)
        ahead = None
        if exo is not None:  # padded like the group's rows
            ahead = np.zeros((n_rows, *exo.shape[1:]), dtype="float32")
            ahead[:len(group)] = exo[g * n_rows:g * n_rows + len(group)]
        preds.append(stateful_rollout(twin, x, horizon=horizon, feedback=feedback,
                                      exo=ahead)[:len(group)])
    return np.concatenate(preds)


def predictions(sf, bundle) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """`stateful.run_history` for a streamed file, as `predict` reports it: every row after
    each series' first, predicted from the state after the rows before it, next to its
    actual value. Yields (series id, row places in the series, predictions (k, targets)
    scaled, actual (k, targets) as in the file), block by block; a group's series come
    interleaved."""
    spans, length, how, twin = _histories(sf, bundle)
    t_idx = sf.target_idx
    for group in groups_of(spans, twin.inputs[0].shape[0]):
        offs = [length - len(s) for s in group]
        for steps, preds, rows in _history_pairs(sf, bundle.scaler, twin, group,
                                                 length=length, how=how):
            for i, s in enumerate(group):
                places = steps - offs[i]
                keep = places >= 1  # a series' first row has nothing before it
                if keep.any():
                    yield s.sid, places[keep], preds[i][keep], rows[i][keep][:, t_idx]
