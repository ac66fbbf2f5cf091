"""tf.distribute strategies and a training loop that works under all of them.

`model.fit` under `MultiWorkerMirroredStrategy` crashes in Keras 3.15 (keras-team/keras#20585,
see KERAS3_NOTES.md section 8), so `custom_fit` trains with `strategy.run` and drives the
usual Keras callbacks itself. Single process, it gives the same losses and weights as
`model.fit` (tests/training/test_distribute.py).

Multi-worker runs read the standard TF_CONFIG variable, one per process, e.g. for worker 1 of 2:

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                "task": {"type": "worker", "index": 1}}'

Every worker runs the same program on the same data; each takes its share of every global
batch, and all of them end with the same weights. Only the chief (`is_chief`) should write.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence

from lstmcli.errors import ConfigError
from lstmcli.models.backend import import_keras

KINDS = ("none", "mirrored", "multi_worker")


def strategy_for(kind: str):
    """The strategy for `kind`: "none" -> None, "mirrored" (this machine's GPUs, else its CPU)
    or "multi_worker" (the cluster in TF_CONFIG, validated first).

    Call it before any other TensorFlow work: MultiWorkerMirroredStrategy must be created
    before the first op runs.
    """
    if kind not in KINDS:
        raise ConfigError(f"Unknown strategy. Received: {kind!r}; use one of {', '.join(KINDS)}")
    if kind == "none":
        return None
    if kind == "multi_worker":
        tf_config()  # fail fast, before the seconds-long TensorFlow import
    import_keras()
    import tensorflow as tf  # noqa: TID253

    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def tf_config() -> dict:
    """TF_CONFIG parsed and checked; a ConfigError naming TF_CONFIG says what is wrong."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        raise ConfigError("The multi_worker strategy needs the TF_CONFIG environment variable "
                          "(cluster and task of this process). Received: TF_CONFIG unset")
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc}). Received: TF_CONFIG={raw!r}"
                          ) from None
    cluster = doc.get("cluster") if isinstance(doc, dict) else None
    if not isinstance(cluster, dict):
        raise ConfigError(f"TF_CONFIG needs a \"cluster\" object. Received: TF_CONFIG={raw!r}")
    if set(cluster) - {"chief", "worker"}:
        raise ConfigError("TF_CONFIG cluster may only hold \"chief\" and \"worker\" jobs "
                          f"(no parameter servers). Received: {sorted(cluster)}")
    for job in cluster:
        hosts = cluster[job]
        if (not isinstance(hosts, list) or not hosts
                or not all(isinstance(h, str) and h.rpartition(":")[2].isdigit() for h in hosts)):
            raise ConfigError(f"TF_CONFIG cluster.{job} must be a non-empty list of "
                              f"\"host:port\" strings. Received: {hosts!r}")
    if "worker" not in cluster:
        raise ConfigError(f"TF_CONFIG cluster needs a \"worker\" list of \"host:port\" strings. "
                          f"Received: TF_CONFIG={raw!r}")
    task = doc.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ConfigError(f"TF_CONFIG task.type must be one of the cluster's jobs "
                          f"{sorted(cluster)}. Received: task={task!r}")
    index, hosts = task.get("index"), cluster[task["type"]]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(hosts):
        raise ConfigError(f"TF_CONFIG task.index must be 0..{len(hosts) - 1} (the "
                          f"{task['type']} list has {len(hosts)}). Received: index={index!r}")
    return doc


def is_chief(strategy) -> bool:
    """True for the process that should write files: no cluster, the chief, or worker 0
    when the cluster has no chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def scope(strategy):
    """`strategy.scope()`, or nothing to do without a strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def chief_in(doc: dict | None) -> bool:
    """From a parsed TF_CONFIG (None: no cluster), before any strategy exists: is this
    process the one that writes?"""
    if not doc:
        return True
    task, cluster = doc["task"], doc["cluster"]
    return task["type"] == "chief" or (task["type"] == "worker" and task["index"] == 0
                                       and "chief" not in cluster)


def task_name(doc: dict | None) -> str:
    """"worker-1", "chief-0": names this process's own scratch files."""
    return f"{doc['task']['type']}-{doc['task']['index']}" if doc else "single"


def describe(strategy) -> dict:
    """{"kind", "replicas", "worker_index", "num_workers"} for reports.

    >>> describe(None)
    {'kind': 'none', 'replicas': 1, 'worker_index': 0, 'num_workers': 1}
    """
    if strategy is None:
        return {"kind": "none", "replicas": 1, "worker_index": 0, "num_workers": 1}
    import tensorflow as tf  # noqa: TID253

    kind = ("multi_worker" if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            else "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy)
            else type(strategy).__name__)
    resolver = getattr(strategy, "cluster_resolver", None)
    jobs = resolver.cluster_spec().as_dict() if resolver is not None else {}
    workers = jobs.get("chief", []) + jobs.get("worker", [])
    index = 0
    if resolver is not None and resolver.task_type == "worker":
        index = resolver.task_id + len(jobs.get("chief", []))  # chief counts as worker 0
    return {"kind": kind, "replicas": int(strategy.num_replicas_in_sync),
            "worker_index": int(index), "num_workers": max(len(workers), 1)}


def custom_fit(model, train_ds, *, strategy, optimizer, loss, epochs: int,
               initial_epoch: int = 0, val_ds=None, callbacks: Sequence = (),
               global_batch: int, jit_compile: bool = False) -> list[dict]:
    """Train `model` in place with `strategy.run`, as `model.fit` would; per-epoch logs back.

    The caller creates the model's variables and the optimizer inside `strategy.scope()`
    (build the model there, and `optimizer.build(model.trainable_variables)`), and seeds
    before building so every worker starts from the same weights.

    train_ds, val_ds: tf.data.Dataset batched with the GLOBAL batch size (`global_batch`),
        yielding (x, y) or (x, y, sample_weight), in the same order on every worker. Each
        worker takes its share of every global batch (auto-shard policy DATA).
    strategy: a tf.distribute strategy, or None for the default (single device) one.
    loss: a Keras loss object ("mean_with_sample_weight" or "sum_over_batch_size" reduction).
        Each replica divides its summed, weighted losses by the GLOBAL divisor of the batch
        (sum of sample weights, or number of elements), all-reduced over the replicas, so the
        summed gradient is that of the batch mean, partial last batches included.
    callbacks: Keras callbacks (EarlyStopping, progress, ...), driven through a CallbackList
        with the same hooks and logs {"loss", "val_loss"} as `model.fit`; `loss` is the mean
        of the batch losses weighted by batch size, as Keras reports it. Every worker sees
        the same logs; a callback that stops training must decide alike on all of them, or
        the others wait for it in the next all-reduce.
    jit_compile: XLA-compile the train and validation steps (whole, all-reduce included,
        as Keras does): fine for one replica or GPU replicas; TensorFlow cannot compile
        collectives between CPU replicas, so that case is a ConfigError.

    Returns one dict per epoch that ran: {"epoch" (1-based), "loss"[, "val_loss"]}.
    """
    keras = import_keras()
    import tensorflow as tf  # noqa: TID253

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if global_batch < 1 or global_batch % replicas:
        raise ConfigError(f"The global batch size must be a multiple of the {replicas} "
                          f"replicas in sync. Received: global_batch={global_batch}")

    # (the default strategy's worker_devices raises, hence the replica test first)
    if jit_compile and replicas > 1 and not any(
            "GPU" in d.upper() for d in strategy.extended.worker_devices):
        raise ConfigError("XLA cannot compile the all-reduce between CPU replicas (TensorFlow: "
                          "\"Collectives are not yet implemented for CPU devices when compiling "
                          "with XLA\"); turn jit_compile off. Received: jit_compile=True with "
                          f"{replicas} CPU replicas")

    def distribute(ds):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return strategy.experimental_distribute_dataset(ds.with_options(options))

    def replica_step(data, training):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=training)
            total, divisor = _loss_terms(loss, y, y_pred, sample_weight)
            divisor = tf.distribute.get_replica_context().all_reduce(
                "SUM", tf.stop_gradient(divisor))
            batch_loss = tf.math.divide_no_nan(total, divisor)  # this replica's share
            if model.losses:  # regularization: counted once over all replicas
                batch_loss += tf.add_n(model.losses) / replicas
        if training:
            variables = model.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(batch_loss, variables), variables,
                                          strict=True))  # sums gradients over replicas
        n = tf.shape(tf.nest.flatten(x)[0])[0]
        return batch_loss, tf.cast(n, batch_loss.dtype)

    def step_fn(training):
        def step(data):
            share, n = strategy.run(replica_step, args=(data, training))
            return strategy.reduce("SUM", share, axis=None), strategy.reduce("SUM", n, axis=None)
        return tf.function(step, jit_compile=jit_compile, reduce_retracing=True)

    train_step, val_step = step_fn(True), step_fn(False)
    train_dist = distribute(train_ds)
    val_dist = distribute(val_ds) if val_ds is not None else None

    cbs = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs,
                                       steps=None, verbose=0)
    model.stop_training = False
    history: list[dict] = []
    model._initial_epoch = None
    cbs.on_train_begin()
    # BackupAndRestore, restoring a restarted worker, says where to go on from here
    initial_epoch = model._initial_epoch or initial_epoch
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        loss_sum = seen = 0.0  # Keras's loss tracker: batch losses weighted by batch size
        for step, batch in enumerate(train_dist):
            cbs.on_train_batch_begin(step)
            batch_loss, n = train_step(batch)
            loss_sum, seen = loss_sum + float(batch_loss) * float(n), seen + float(n)
            cbs.on_train_batch_end(step, {"loss": loss_sum / seen})
            if model.stop_training:
                break
        logs = {"loss": loss_sum / max(seen, 1.0)}
        if val_dist is not None:
            logs["val_loss"] = _evaluate(val_step, val_dist, cbs)
        cbs.on_epoch_end(epoch, logs)
        history.append({"epoch": epoch + 1, **logs})
        if model.stop_training:
            break
    cbs.on_train_end(history[-1] if history else None)
    return history


def _evaluate(val_step, val_dist, cbs) -> float:
    """Validation loss as `model.evaluate` reports it (batch losses weighted by batch size)."""
    cbs.on_test_begin()
    loss_sum = seen = 0.0
    for step, batch in enumerate(val_dist):
        cbs.on_test_batch_begin(step)
        batch_loss, n = val_step(batch)
        loss_sum, seen = loss_sum + float(batch_loss) * float(n), seen + float(n)
        cbs.on_test_batch_end(step, {"loss": loss_sum / seen})
    logs = {"loss": loss_sum / max(seen, 1.0)}
    cbs.on_test_end(logs)
    return logs["loss"]


def _loss_terms(loss, y, y_pred, sample_weight):
    """(sum of weighted element losses, divisor) of this replica's share of a batch.

    Mirrors keras.losses.Loss.__call__: a Keras mask on y_pred (Masking layer) multiplies
    the weights; "mean_with_sample_weight" divides by the sum of the weights,
    "sum_over_batch_size" by the number of (unmasked) elements.
    """
    import tensorflow as tf  # noqa: TID253

    if loss.reduction not in ("mean_with_sample_weight", "sum_over_batch_size"):
        raise ValueError("custom_fit needs a loss with reduction 'mean_with_sample_weight' or "
                         f"'sum_over_batch_size'. Received: reduction={loss.reduction!r}")
    values = tf.convert_to_tensor(loss.call(y, y_pred))  # e.g. (batch, horizon) for MSE
    mask = getattr(y_pred, "_keras_mask", None)
    weight = None if sample_weight is None else _same_rank(
        tf.cast(sample_weight, values.dtype), values)
    if mask is not None:
        mask = _same_rank(tf.cast(mask, values.dtype), values)
        weight = mask if weight is None else _same_rank(weight, mask) * mask
    total = tf.reduce_sum(values if weight is None else values * weight)
    if loss.reduction == "mean_with_sample_weight" and weight is not None:
        divisor = tf.reduce_sum(weight)
    elif mask is not None:
        divisor = tf.reduce_sum(mask)
    else:
        divisor = tf.cast(tf.size(values), values.dtype)
    return total, divisor


def _same_rank(w, values):
    """keras' squeeze_or_expand_to_same_rank for a weight against the loss values."""
    while w.shape.rank < values.shape.rank:
        w = w[..., None]
    while w.shape.rank > values.shape.rank and w.shape[-1] == 1:
        w = w[..., 0]
    return w
