"""Compiled forecasting loops: predict over many windows, and autoregressive rollout.

Calling `model.predict` once per step pays Keras's whole set-up cost every step (tens of
milliseconds). Here the whole H-step loop - run the model, keep the prediction, feed it
back by shifting the window or carrying the recurrent state - is one `tf.function`, traced
once and run over all series at once as one batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator

import numpy as np

from lstmcli.models.backend import import_keras

PREDICT_BATCH = 4096  # windows per compiled call

# Compiled loops, per model and per (kind, horizon, ...): tracing costs ~0.3 s, so a model
# used again (library use, benchmarks) reuses its traced loop.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tf():
    import_keras()
    import tensorflow as tf  # noqa: TID253

    return tf


def _compiled(model, key: tuple, make: Callable[[bool], Callable]) -> Callable:
    """The loop `make(jit)` for `model`, built once. XLA compiles it where it can (on CPU a
    one-series rollout step drops from ~0.5 ms to ~0.01 ms); a model XLA cannot compile
    falls back to a plain graph."""
    tf = _tf()
    cache = _COMPILED.setdefault(model, {})
    if key not in cache:
        fast, plain = make(True), make(False)

        def run(*args):
            if cache.get(("xla_failed",) + key):
                return plain(*args)
            try:
                return fast(*args)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
                cache[("xla_failed",) + key] = True
                return plain(*args)

        cache[key] = run
    return cache[key]


def predict_batches(model, batches: Iterator[np.ndarray]) -> np.ndarray:
    """Run `model` over batches of windows with one compiled function (no per-call set-up)."""
    tf = _tf()
    step = _compiled(model, ("predict",), lambda jit: tf.function(
        lambda x: model(x, training=False), jit_compile=jit, reduce_retracing=True))
    outs = [step(tf.constant(np.ascontiguousarray(b, dtype="float32"))).numpy() for b in batches]
    return np.concatenate(outs) if outs else np.empty((0,))


def _feedback(feedback: list[int]):
    """(gather order, mask): feature j takes target feedback[j], or, where feedback[j] is
    -1 (a calendar feature), the known future value."""
    tf = _tf()
    mask = tf.constant([i >= 0 for i in feedback])
    return tf.constant([max(i, 0) for i in feedback], dtype=tf.int32), mask[None, None, :]


def _exo(exo: np.ndarray | None, n: int, steps: int, n_features: int):
    tf = _tf()
    if exo is None:
        return tf.zeros((n, steps, n_features), tf.float32)
    return tf.constant(exo[:, :steps], dtype=tf.float32)


def window_rollout(model, x: np.ndarray, *, horizon: int, feedback: list[int],
                   per_step: bool, exo: np.ndarray | None = None) -> np.ndarray:
    """Sliding-window rollout of a stateless model, whole horizon in one compiled call.

    x: (series, look_back, features) scaled inputs. Each call predicts the model's horizon
    (or, for a per-step model, the step after the window); the predictions, reordered by
    `feedback` into feature order, are appended and the window slides on. Features whose
    feedback is -1 come from `exo` (series, >= horizon rounded up to whole calls, features):
    the scaled known future values (calendar features) of each forecast step.
    Returns (series, horizon, targets).
    """
    tf = _tf()
    look_back = x.shape[1]
    per_call = 1 if per_step else int(model.outputs[0].shape[1])
    calls = -(-horizon // per_call)
    order, mask = _feedback(feedback)

    def make(jit: bool):
        @tf.function(jit_compile=jit)
        def loop(window, future):
            preds = tf.TensorArray(tf.float32, size=calls)
            for t in tf.range(calls):
                y = model(window, training=False)
                if per_step:
                    y = y[:, -1:, :]
                preds = preds.write(t, y)
                known = tf.slice(future, [0, t * per_call, 0], [-1, per_call, -1])
                rows = tf.where(mask, tf.gather(y, order, axis=2), known)
                window = tf.concat([window, rows], axis=1)[:, -look_back:]
            out = tf.transpose(preds.stack(), [1, 0, 2, 3])  # (series, calls, per_call, targets)
            return tf.reshape(out, [tf.shape(out)[0], calls * per_call, tf.shape(out)[3]])

        return loop

    loop = _compiled(model, ("window", calls, tuple(feedback), per_step), make)
    future = _exo(exo, len(x), calls * per_call, x.shape[2])
    return loop(tf.constant(x, dtype=tf.float32), future).numpy()[:, :horizon]


def stateful_rollout(twin, history: np.ndarray, *, horizon: int,
                     feedback: list[int], exo: np.ndarray | None = None) -> np.ndarray:
    """Warm the state up on the history, then feed predictions back one step at a time.

    twin: a stateful model whose batch size is history.shape[0], state already reset.
    history: (series, steps, features), padded in front with the masked PAD value.
    exo: as for `window_rollout` (known future values where feedback is -1).
    All in one compiled call, without a reset between warm-up and rollout.
    Returns (series, horizon, targets).
    """
    tf = _tf()
    order, mask = _feedback(feedback)

    def make(jit: bool):
        @tf.function(jit_compile=jit)
        def loop(hist, future):
            y = twin(hist, training=False)[:, -1:, :]  # warm-up; the first forecast step
            preds = tf.TensorArray(tf.float32, size=horizon)
            preds = preds.write(0, y)
            for t in tf.range(1, horizon):
                known = tf.slice(future, [0, t - 1, 0], [-1, 1, -1])
                rows = tf.where(mask, tf.gather(y, order, axis=2), known)
                y = twin(rows, training=False)
                preds = preds.write(t, y)
            return tf.transpose(preds.stack()[:, :, 0, :], [1, 0, 2])

        return loop

    loop = _compiled(twin, ("stateful", horizon, tuple(feedback)), make)
    future = _exo(exo, history.shape[0], horizon, history.shape[2])
    return loop(tf.constant(history, dtype=tf.float32), future).numpy()
