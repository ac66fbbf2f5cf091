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

from lstmcli.backend import import_keras

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


def window_rollout(model, x: np.ndarray, *, horizon: int, feedback: list[int],
                   per_step: bool) -> np.ndarray:
    """Sliding-window rollout of a stateless model, whole horizon in one compiled call.

    x: (series, look_back, features) scaled inputs. Each call predicts the model's horizon
    (or, for a per-step model, the step after the window); the predictions, reordered by
    `feedback` into feature order, are appended and the window slides on.
    Returns (series, horizon, targets).
    """
    tf = _tf()
    look_back = x.shape[1]
    per_call = 1 if per_step else int(model.outputs[0].shape[1])
    calls = -(-horizon // per_call)
    order = tf.constant(feedback, dtype=tf.int32)

    def make(jit: bool):
        @tf.function(jit_compile=jit)
        def loop(window):
            preds = tf.TensorArray(tf.float32, size=calls)
            for t in tf.range(calls):
                y = model(window, training=False)
                if per_step:
                    y = y[:, -1:, :]
                preds = preds.write(t, y)
                window = tf.concat([window, tf.gather(y, order, axis=2)],
                                   axis=1)[:, -look_back:]
            out = tf.transpose(preds.stack(), [1, 0, 2, 3])  # (series, calls, per_call, targets)
            return tf.reshape(out, [tf.shape(out)[0], calls * per_call, tf.shape(out)[3]])

        return loop

    loop = _compiled(model, ("window", calls, tuple(feedback), per_step), make)
    return loop(tf.constant(x, dtype=tf.float32)).numpy()[:, :horizon]


def stateful_rollout(twin, history: np.ndarray, *, horizon: int,
                     feedback: list[int]) -> np.ndarray:
    """Warm the state up on the history, then feed predictions back one step at a time.

    twin: a stateful model whose batch size is history.shape[0], state already reset.
    history: (series, steps, features), padded in front with the masked PAD value.
    All in one compiled call, without a reset between warm-up and rollout.
    Returns (series, horizon, targets).
    """
    tf = _tf()
    order = tf.constant(feedback, dtype=tf.int32)

    def make(jit: bool):
        @tf.function(jit_compile=jit)
        def loop(hist):
            y = twin(hist, training=False)[:, -1:, :]  # warm-up; the first forecast step
            preds = tf.TensorArray(tf.float32, size=horizon)
            preds = preds.write(0, y)
            for t in tf.range(1, horizon):
                y = twin(tf.gather(y, order, axis=2), training=False)
                preds = preds.write(t, y)
            return tf.transpose(preds.stack()[:, :, 0, :], [1, 0, 2])

        return loop

    loop = _compiled(twin, ("stateful", horizon, tuple(feedback)), make)
    return loop(tf.constant(history, dtype=tf.float32)).numpy()
