"""Fit a built model on windows: seeding, compile, early stopping, per-epoch progress.

`fit` is the seam between training modes: `training.mode` selects how batches are laid
out and when recurrent state is reset. Stateless training treats every window as an
independent sample and shuffles them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lstmcli.backend import import_keras
from lstmcli.config import TrainingSpec

# on_epoch(epoch (1-based), epochs, logs, seconds)
EpochCallback = Callable[[int, int, dict, float], None]

_LOSSES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "huber": "huber"}


@dataclass
class TrainResult:
    history: list[dict]  # one dict per epoch: epoch, loss, [val_loss], seconds
    best_epoch: int  # 1-based epoch whose weights the model now holds
    best_loss: float  # its monitored loss (val_loss when there is a validation split)
    monitor: str
    stopped_early: bool
    seconds: float


def seed_everything(seed: int) -> None:
    """Same seed, same data, same machine -> bit-identical weights."""
    keras = import_keras()
    import tensorflow as tf  # noqa: TID253

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _optimizer(spec: TrainingSpec):
    keras = import_keras()
    cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
           "sgd": keras.optimizers.SGD}[spec.optimizer.name]
    return cls(learning_rate=spec.optimizer.learning_rate)


def fit(model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray] | None,
        spec: TrainingSpec, *, epochs: int | None = None,
        on_epoch: EpochCallback | None = None) -> TrainResult:
    """Train `model` in place; afterwards it holds the best epoch's weights."""
    keras = import_keras()
    epochs = epochs or spec.epochs
    monitor = "val_loss" if val is not None and len(val[0]) else "loss"

    class _Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                   "seconds": round(time.perf_counter() - self.t0, 4)}
            rows.append(row)
            if on_epoch is not None:
                on_epoch(epoch + 1, epochs, row, row["seconds"])

    rows: list[dict] = []
    callbacks = [_Progress()]
    stopper = None
    if spec.early_stopping.enabled:
        stopper = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=spec.early_stopping.patience,
            min_delta=spec.early_stopping.min_delta, restore_best_weights=True)
        callbacks.append(stopper)

    model.compile(optimizer=_optimizer(spec), loss=_LOSSES[spec.loss])
    x, y = (np.asarray(a, dtype="float32") for a in train)
    val_data = None
    if monitor == "val_loss":
        val_data = tuple(np.asarray(a, dtype="float32") for a in val)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=spec.batch_size, epochs=epochs, validation_data=val_data,
              shuffle=spec.shuffle, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - t0

    losses = [r[monitor] for r in rows]
    if stopper is not None and stopper.best_weights is not None:
        best = int(stopper.best_epoch)  # weights restored from this epoch
    else:
        best = len(rows) - 1  # no early stopping: the model keeps the last epoch
    return TrainResult(history=rows, best_epoch=best + 1, best_loss=float(losses[best]),
                       monitor=monitor, stopped_early=len(rows) < epochs,
                       seconds=round(seconds, 3))
