"""Fit a built model: seeding, compile, early stopping, per-epoch progress.

`TrainData` carries what differs between training modes: stateless windows are shuffled
and validated by Keras; stateful chunks come in a fixed order with per-step weights, and
bring their own callbacks (state resets, validation on a separate state).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmcli.config import TrainingSpec
from lstmcli.errors import Interrupted, ModelError
from lstmcli.models.backend import import_keras
from lstmcli.training import checkpoints
from lstmcli.training.checkpoints import ResumeState
from lstmcli.training.signals import StopRequest

# on_epoch(epoch (1-based), epochs, logs, seconds)
EpochCallback = Callable[[int, int, dict, float], None]


@dataclass
class TrainData:
    """What `fit` trains on: arrays (x, y), or a batched tf.data.Dataset in `x` (y None)."""

    x: object
    y: np.ndarray | None
    batch_size: int
    shuffle: bool
    n_train: int  # training samples
    x_shape: list[int]  # of all training inputs, for reports
    y_shape: list[int]
    sample_weight: np.ndarray | None = None  # 0 marks padding (stateful layouts)
    val: object | None = None  # validated by Keras: a dataset or an (x, y) tuple
    n_val: int = 0
    callbacks: list = field(default_factory=list)  # run before progress and early stopping
    validates_itself: bool = False  # one of `callbacks` writes logs["val_loss"]
    # Batches per compiled call: fewer Python round trips. Batch-level callbacks then run
    # only every that many batches, so layouts that reset state per batch keep 1.
    steps_per_execution: int = 128


@dataclass
class TrainResult:
    history: list[dict]  # one dict per epoch: epoch, loss, [val_loss], seconds
    best_epoch: int  # 1-based epoch whose weights the model now holds
    best_loss: float  # its monitored loss (val_loss when there is a validation split)
    monitor: str
    stopped_early: bool
    seconds: float


def seed_everything(seed: int) -> None:
    """Same seed, same data, same machine -> the same weights (checked on CPU).

    Seeds Python, NumPy and TensorFlow. TensorFlow's op-determinism switch is not turned on:
    Keras then refuses XLA, which halves CPU training time, and on CPU the seed alone already
    gives bit-identical runs.
    """
    keras = import_keras()
    keras.utils.set_random_seed(seed)


def _optimizer(spec: TrainingSpec):
    keras = import_keras()
    cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
           "sgd": keras.optimizers.SGD}[spec.optimizer.name]
    return cls(learning_rate=spec.optimizer.learning_rate)


def _loss(spec: TrainingSpec):
    """Padding steps carry weight 0; averaging over the weights (not over every step)
    keeps the reported loss in the same units with or without padding."""
    keras = import_keras()
    cls = {"mse": keras.losses.MeanSquaredError, "mae": keras.losses.MeanAbsoluteError,
           "huber": keras.losses.Huber, "mase": keras.losses.MeanAbsoluteError}[spec.loss]
    if spec.loss == "mase":  # weights are 1 / each series' scale: the mean of the scaled
        return cls(reduction="sum_over_batch_size")  # errors, i.e. the MASE itself
    return cls(reduction="mean_with_sample_weight")


@dataclass
class Persistence:
    """Where `fit` checkpoints, what it resumes from, and the stop flag it watches."""

    work: Path  # the run's work directory (checkpoints/ inside)
    fingerprint: str
    every: int = 1  # epochs between checkpoints; 0: none
    resume: ResumeState | None = None
    stop: StopRequest | None = None


def _needs_custom_loop(strategy) -> bool:
    if strategy is None:
        return False
    import tensorflow as tf  # noqa: TID253

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def fit(model, data: TrainData, spec: TrainingSpec, *, epochs: int | None = None,
        on_epoch: EpochCallback | None = None, jit_compile: bool | None = None,
        persist: Persistence | None = None, strategy=None) -> TrainResult:
    """Train `model` in place; afterwards it holds the best epoch's weights.

    jit_compile: XLA for the train step; None takes training.jit_compile, and when that is
    None too, on. persist: checkpoint each epoch, resume from a checkpoint (weights,
    optimizer state, epoch count, history, early-stopping counters), stop on a signal.
    strategy: a MultiWorkerMirroredStrategy trains with `distribute.custom_fit` (Keras's
    `fit` crashes under it); call `fit` inside the strategy's scope, with `data.x` batched
    by the global batch. Other strategies use `model.fit` as it is.
    """
    keras = import_keras()
    epochs = epochs or spec.epochs
    has_val = data.validates_itself or data.val is not None
    monitor = "val_loss" if has_val else "loss"
    resume = persist.resume if persist else None

    class _Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                   "seconds": round(time.perf_counter() - self.t0, 4)}
            if spec.optimizer.schedule != "constant":  # the rate this epoch ran with
                row["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
            rows.append(row)
            if on_epoch is not None:
                on_epoch(epoch + 1, epochs, row, row["seconds"])

    class _Stopper(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if resume is not None and resume.early_stopping:
                for key, value in resume.early_stopping.items():
                    setattr(self, key, value)
                self.best_weights = resume.best_weights

    class _StopOnSignal(keras.callbacks.Callback):
        """A signal abandons the epoch in progress; the last checkpoint is the previous
        epoch's (or this one's, when the signal came during its validation or checkpoint)."""

        def _check(self):
            if persist.stop.signum:
                raise Interrupted(f"stopped by {persist.stop.name} after "
                                  f"{len(rows)} of {epochs} epoch(s)", persist.stop.signum)

        def on_train_batch_end(self, batch, logs=None):
            self._check()

        def on_epoch_end(self, epoch, logs=None):  # runs after the epoch's checkpoint
            self._check()

    class _Diverged(keras.callbacks.Callback):
        """A loss or a weight that is NaN or infinite ends training with a ModelError,
        before the epoch is reported, early stopping counts it or a checkpoint keeps it.
        (The weights too: the last update of an epoch without validation can break them
        while the epoch's loss, computed before it, is still finite.)"""

        def on_epoch_end(self, epoch, logs=None):
            bad = [f"{k} {float(v)}" for k, v in (logs or {}).items()
                   if k in ("loss", "val_loss") and not np.isfinite(float(v))]
            if not bad and not all(np.isfinite(w).all() for w in self.model.get_weights()):
                bad = ["the weights are not finite"]
            if bad:
                raise _diverged(epoch + 1, ", ".join(bad), spec, persist)

    rows: list[dict] = list(resume.history) if resume else []
    # after data.callbacks: a stateful layout's own validation writes logs["val_loss"]
    callbacks = [*data.callbacks, _Diverged(), _Progress()]
    stopper = None
    if spec.early_stopping.enabled:
        stopper = _Stopper(
            monitor=monitor, patience=spec.early_stopping.patience,
            min_delta=spec.early_stopping.min_delta, restore_best_weights=True)
        callbacks.append(stopper)
    if spec.optimizer.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=0.5, patience=max(2, spec.early_stopping.patience // 3),
            min_lr=spec.optimizer.learning_rate / 64))
    if persist is not None and persist.every:
        callbacks.append(checkpoints.callback(persist.work, persist.fingerprint, rows=rows,
                                              stopper=stopper, every=persist.every))
    if persist is not None and persist.stop is not None:
        callbacks.append(_StopOnSignal())

    # XLA-compiled train step: about 2x faster on CPU for these small recurrent models
    if jit_compile is None:
        jit_compile = True if spec.jit_compile is None else spec.jit_compile
    model.compile(optimizer=_optimizer(spec), loss=_loss(spec), jit_compile=jit_compile,
                  steps_per_execution=data.steps_per_execution)
    val = None if data.validates_itself else data.val
    start = 0
    if resume is not None:
        model.optimizer.build(model.trainable_variables)
        model.load_weights(resume.weights_path)  # weights and optimizer state
        start = epochs if resume.stopped else min(resume.epochs_done, epochs)
    t0 = time.perf_counter()
    if _needs_custom_loop(strategy):
        from lstmcli.training.distribute import custom_fit

        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # in the strategy's scope
        custom_fit(model, data.x, strategy=strategy, optimizer=model.optimizer,
                   loss=model.loss, epochs=epochs, initial_epoch=start, val_ds=val,
                   callbacks=callbacks, global_batch=data.batch_size, jit_compile=jit_compile)
    elif data.y is None:  # a dataset yields its own batches, already shuffled
        model.fit(data.x, epochs=epochs, initial_epoch=start, validation_data=val,
                  callbacks=callbacks, verbose=0, shuffle=False)
    else:
        model.fit(np.asarray(data.x, dtype="float32"), np.asarray(data.y, dtype="float32"),
                  sample_weight=data.sample_weight, batch_size=data.batch_size, epochs=epochs,
                  initial_epoch=start, validation_data=val, shuffle=data.shuffle,
                  callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - t0

    # Rows are numbered by epoch: a run resumed by BackupAndRestore starts past epoch 1.
    by_epoch = {r["epoch"]: r for r in rows}
    last = rows[-1]["epoch"]
    if stopper is not None and stopper.best_weights is not None:
        best = int(stopper.best_epoch) + 1  # weights restored from this epoch
    else:
        best = last  # no early stopping: the model keeps the last epoch
    return TrainResult(history=rows, best_epoch=best,
                       best_loss=float(by_epoch.get(best, rows[-1])[monitor]),
                       monitor=monitor, stopped_early=last < epochs or bool(
                           resume and resume.stopped),
                       seconds=round(seconds, 3))


def _diverged(epoch: int, what: str, spec: TrainingSpec, persist: Persistence | None
              ) -> ModelError:
    """Training went to NaN or infinity: nothing is saved. Checkpoints of the epochs before
    are kept (as after a signal): `--resume --epochs N` turns the last one into a run."""
    hint = ""
    kept = checkpoints.latest(persist.work) if persist is not None else None
    if kept is not None:
        done = int(kept.name.split("-")[1])
        hint = (f"; the checkpoint after epoch {done} is kept in {persist.work} (--resume "
                f"--epochs {done} saves the best epoch up to it; --force starts over)")
    return ModelError(f"training diverged at epoch {epoch} ({what}); lower "
                      f"training.optimizer.learning_rate (now {spec.optimizer.learning_rate:g})"
                      f" or check data.scaling; nothing was written{hint}")
