"""Stateful models: resets at sequence boundaries, validation on its own state, inference
with another batch size, and state warm-up followed by rollout.

A stateful layer keeps one state row per batch row, so its batch size is fixed. Inside
`fit`/`predict`, Keras 3 does not check it: a short batch is silently broadcast against
the state and yields the wrong number of rows. Everything here therefore feeds a stateful
model exactly its batch size, and `check_rows` refuses anything else.
"""

from __future__ import annotations

import numpy as np

from lstmcli.config import Config
from lstmcli.errors import ModelError
from lstmcli.models.backend import import_keras
from lstmcli.models.topology import build_model, reset_states
from lstmcli.training.windows import padded_block

STEP_BLOCK = 1024  # time steps per call when running a long history through a model


def check_rows(model, x: np.ndarray) -> None:
    expected = model.inputs[0].shape[0]
    if expected is not None and x.shape[0] != expected:
        raise ModelError(f"internal: a stateful model with batch size {expected} was about to "
                         f"be fed {x.shape[0]} rows")


def inference_twin(config: Config, *, n_rows: int, n_features: int, n_targets: int, weights):
    """The trained network rebuilt for `n_rows` rows (one per series), reading a prediction
    at every step; same weights, its own state."""
    twin = build_model(config.model, look_back=config.window.look_back, n_features=n_features,
                       horizon=1, n_targets=n_targets, stateful=True, batch_size=n_rows,
                       per_step=True)
    twin.set_weights(weights)
    return twin


class ScaledSeries:
    """Each series' scaled rows, cut when asked for (`piece`): what the whole-history runs
    read, a block of steps at a time, so no series is scaled whole in memory."""

    def __init__(self, series: list, scaler) -> None:
        self.series, self.scaler = series, scaler

    def __len__(self) -> int:
        return len(self.series)

    def lengths(self) -> list[int]:
        return [len(s) for s in self.series]

    def piece(self, i: int, a: int, b: int) -> np.ndarray:
        s = self.series[i]
        return self.scaler.of(s.id).transform(s.values[a:b]).astype("float32")


def _run(twin, rows, lengths: list[int], stop: int, columns: list[int], keep_from: int
         ) -> np.ndarray | None:
    """Reset, then steps 0..stop-1 of the left-padded rows through `twin`, STEP_BLOCK steps
    per call; the outputs of steps keep_from.. (None when none are kept)."""
    reset_states(twin)
    outs = []
    for s in range(0, stop, STEP_BLOCK):
        e = min(s + STEP_BLOCK, stop)
        x = padded_block(rows, lengths, s, e, columns)
        check_rows(twin, x)
        out = np.asarray(twin.predict_on_batch(x))
        if e > keep_from:
            outs.append(out[:, max(0, keep_from - s):])
    return np.concatenate(outs, axis=1) if outs else None


def run_history(twin, rows, *, columns: list[int], keep_from: int = 0) -> np.ndarray:
    """Reset, then run each row through `twin`, all rows side by side.

    rows: `lengths()` and `piece(i, a, b)` (`ScaledSeries`, or `windows.Rows`); columns:
    the feature columns. Rows are right-aligned and padded in front (masked, so the state
    stays zero until a row's data starts). Returns the per-step outputs from step
    `keep_from` of the longest row on, (rows, longest - keep_from, targets): output t of a
    row is its prediction for step t + 1.
    """
    lengths = rows.lengths()
    return _run(twin, rows, lengths, max(lengths), columns, keep_from)


def warm_up_rollout(twin, rows, *, columns: list[int], horizon: int,
                    feedback: list[int], exo: np.ndarray | None = None) -> np.ndarray:
    """Condition the state on each row's whole history (all but its last step a block at
    a time, as `run_history`), then continue one step at a time from the last step,
    feeding each prediction back (targets reordered by `feedback` into feature order),
    with no reset in between; that part in one compiled call. Returns (rows, horizon,
    targets)."""
    from lstmcli.forecast.loops import stateful_rollout

    lengths = rows.lengths()
    longest = max(lengths)
    if longest > 1:
        _run(twin, rows, lengths, longest - 1, columns, keep_from=longest - 1)
    else:
        reset_states(twin)
    last = padded_block(rows, lengths, longest - 1, longest, columns)
    check_rows(twin, last)
    return stateful_rollout(twin, last, horizon=horizon, feedback=feedback, exo=exo)


def loss_terms(kind: str, err: np.ndarray) -> np.ndarray:
    """The training loss of each element of `err` (prediction - truth); its mean is the loss."""
    if kind == "mae":
        return np.abs(err)
    if kind == "huber":  # delta 1, as keras.losses.Huber
        a = np.abs(err)
        return np.where(a <= 1.0, 0.5 * err**2, a - 0.5)
    return err**2


def _loss(kind: str, pred: np.ndarray, true: np.ndarray) -> float:
    return float(loss_terms(kind, pred - true).mean())


def training_callbacks(*, chunks: int, config: Config, val_rows, train_steps: list[int],
                       feature_idx: list[int], target_idx: list[int]):
    """Callbacks for stateful `fit`: reset every `chunks` batches (the start of each row
    group, so also at each epoch start) and nowhere else; and, with `val_rows` (the full
    scaled series, as `windows.Rows`), a validation pass on a separate twin with its own
    state."""
    keras = import_keras()

    class ResetAtSequenceStart(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch % chunks == 0:
                reset_states(self.model)

    class StatefulValidation(keras.callbacks.Callback):
        """val_loss: warm up on each series' training part, score its validation tail."""

        def __init__(self):
            super().__init__()
            self.twin = None

        def on_epoch_end(self, epoch, logs=None):
            if self.twin is None:
                self.twin = inference_twin(config, n_rows=len(val_rows),
                                           n_features=len(feature_idx),
                                           n_targets=len(target_idx),
                                           weights=self.model.get_weights())
            else:
                self.twin.set_weights(self.model.get_weights())
            rows = val_rows
            lengths = rows.lengths()
            longest = max(lengths)
            # prediction for step t is output t - 1: only the tails' outputs are kept
            first = min(longest - n + k - 1 for n, k in zip(lengths, train_steps, strict=True))
            out = run_history(self.twin, rows, columns=feature_idx, keep_from=first)
            preds, truth = [], []
            for i, (n, n_train) in enumerate(zip(lengths, train_steps, strict=True)):
                offset = longest - n - first
                preds.append(out[i, offset + n_train - 1:offset + n - 1])
                truth.append(rows.piece(i, n_train, n)[:, target_idx])
            if logs is not None:
                logs["val_loss"] = _loss(config.training.loss, np.concatenate(preds),
                                         np.concatenate(truth))

    callbacks = [ResetAtSequenceStart()]
    if val_rows is not None and len(val_rows):
        callbacks.append(StatefulValidation())
    return callbacks
