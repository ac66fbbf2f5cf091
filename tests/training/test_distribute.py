"""custom_fit trains like model.fit: in one process, and in two real worker processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmcli.errors import ConfigError
from lstmcli.training.distribute import describe, is_chief, strategy_for, tf_config

HERE = Path(__file__).resolve().parent.parent  # tests/
EPOCHS, GLOBAL_BATCH, LOOK_BACK = 3, 16, 6  # 200 windows: 12 full batches and one of 8


def tiny_data():
    """(train, val) datasets of (x (batch, 6, 1), y (batch, 1)) in a fixed order."""
    from lstmcli.models.backend import import_keras

    import_keras()
    import tensorflow as tf  # noqa: TID253

    rng = np.random.default_rng(0)
    series = (np.sin(np.arange(206) / 4) + rng.normal(0, 0.1, 206)).astype("float32")
    x = np.stack([series[i:i + LOOK_BACK] for i in range(200)])[..., None]
    y = series[LOOK_BACK:LOOK_BACK + 200, None]

    def batches(a, b):
        return tf.data.Dataset.from_tensor_slices((a, b)).batch(GLOBAL_BATCH)

    return batches(x, y), batches(x[:40], y[:40])


def tiny_model():
    from lstmcli.models.backend import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((LOOK_BACK, 1)), keras.layers.LSTM(4),
                             keras.layers.Dense(1)])


def _loss():
    from lstmcli.models.backend import import_keras

    return import_keras().losses.MeanSquaredError(reduction="mean_with_sample_weight")


def run_model_fit(callbacks=()):
    """The reference: plain model.fit, no strategy."""
    from lstmcli.models.backend import import_keras

    keras = import_keras()
    train, val = tiny_data()
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=_loss(), jit_compile=False)
    history = model.fit(train, validation_data=val, epochs=EPOCHS, verbose=0, shuffle=False,
                        callbacks=list(callbacks))
    return model.get_weights(), history.history


def run_custom_fit(strategy, callbacks=(), *, jit_compile=False):
    """The same training through custom_fit; also run by each worker process."""
    from lstmcli.models.backend import import_keras
    from lstmcli.training.distribute import custom_fit

    keras = import_keras()
    import tensorflow as tf  # noqa: TID253

    train, val = tiny_data()
    with (strategy or tf.distribute.get_strategy()).scope():
        model = tiny_model()
        optimizer = keras.optimizers.Adam(0.01)
        optimizer.build(model.trainable_variables)
    history = custom_fit(model, train, strategy=strategy, optimizer=optimizer, loss=_loss(),
                         epochs=EPOCHS, val_ds=val, callbacks=callbacks,
                         global_batch=GLOBAL_BATCH, jit_compile=jit_compile)
    return model.get_weights(), history


@pytest.fixture(scope="module")
def reference():
    return run_model_fit()


def _assert_same(weights, history, reference):
    ref_weights, ref_history = reference
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose([r[key] for r in history], ref_history[key], atol=1e-5)
    assert len(weights) == len(ref_weights)
    for a, b in zip(weights, ref_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", ["default", "mirrored", "default+xla"])
def test_custom_fit_matches_model_fit(reference, kind):
    from lstmcli.models.backend import import_keras

    keras = import_keras()
    import tensorflow as tf  # noqa: TID253

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"]) if kind == "mirrored" else None
    seen = []

    class Progress(keras.callbacks.Callback):  # reads the logs as train.fit's progress does
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, logs["loss"], logs["val_loss"]))

    weights, history = run_custom_fit(strategy, callbacks=[Progress()],
                                      jit_compile=kind.endswith("xla"))
    _assert_same(weights, history, reference)
    assert seen == [(r["epoch"] - 1, r["loss"], r["val_loss"]) for r in history]
    assert describe(strategy)["replicas"] == 1 and is_chief(strategy)


def test_early_stopping_restores_the_best_weights():
    from lstmcli.models.backend import import_keras

    keras = import_keras()

    def run(train):
        # min_delta 1: epoch 2 never improves enough, so training stops there and epoch 1's
        # weights come back; `saved` holds each epoch's weights from before the restore
        saved = []
        record = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: saved.append(record.model.get_weights()))
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=1.0,
                                             restore_best_weights=True)
        weights, history = train(callbacks=[record, stop])
        return weights, history, saved, stop

    weights, history, saved, stop = run(lambda callbacks: run_custom_fit(None, callbacks))
    assert len(history) == len(saved) == 2 and stop.stopped_epoch == 1
    for a, b in zip(weights, saved[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(weights, saved[1], strict=True))
    ref_weights, ref_history, _, _ = run(run_model_fit)
    assert len(ref_history["loss"]) == 2
    for a, b in zip(weights, ref_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


WORKER = """
import json, sys
from lstmcli.training.distribute import describe, is_chief, strategy_for
strategy = strategy_for("multi_worker")  # before any other TensorFlow op
import numpy as np
from test_distribute import run_custom_fit
weights, history = run_custom_fit(strategy)
out = sys.argv[1]
np.savez(out + ".npz", *weights)
with open(out + ".json", "w") as f:
    json.dump({"history": history, "describe": describe(strategy),
               "chief": is_chief(strategy)}, f)
"""


def test_two_workers_match_one_process(tmp_path, reference):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
               "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE), str(HERE / "training")]),
               "TF_CONFIG": json.dumps({"cluster": {"worker": hosts},
                                        "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"w{i}")], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for i, p in enumerate(procs):
        assert p.returncode == 0, f"worker {i} exited {p.returncode}:\n{outputs[i][-3000:]}"

    results = []
    for i in range(2):
        with np.load(tmp_path / f"w{i}.npz") as npz:
            weights = [npz[f"arr_{k}"] for k in range(len(npz.files))]
        results.append((weights, json.loads((tmp_path / f"w{i}.json").read_text())))
    for i, (weights, doc) in enumerate(results):
        assert doc["describe"] == {"kind": "multi_worker", "replicas": 2, "worker_index": i,
                                   "num_workers": 2}
        assert doc["chief"] is (i == 0)
        _assert_same(weights, doc["history"], reference)
    for a, b in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_array_equal(a, b)  # the workers hold the very same weights


GOOD = {"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
        "task": {"type": "worker", "index": 1}}


@pytest.mark.parametrize("value, fragment", [
    (None, "needs the TF_CONFIG environment variable"),
    ("  ", "needs the TF_CONFIG environment variable"),
    ("{cluster: 1}", "TF_CONFIG is not valid JSON"),
    ("[]", "TF_CONFIG needs a \"cluster\" object"),
    ({"task": GOOD["task"]}, "TF_CONFIG needs a \"cluster\" object"),
    ({**GOOD, "cluster": {"chief": ["h:1"]}}, "TF_CONFIG cluster needs a \"worker\" list"),
    ({**GOOD, "cluster": {"worker": []}}, "TF_CONFIG cluster.worker must be a non-empty list"),
    ({**GOOD, "cluster": {"worker": "h:1"}}, "TF_CONFIG cluster.worker must be a non-empty"),
    ({**GOOD, "cluster": {"worker": ["h"]}}, "\"host:port\" strings. Received: ['h']"),
    ({**GOOD, "cluster": {"worker": ["h:1"], "ps": ["h:2"]}}, "no parameter servers"),
    ({"cluster": GOOD["cluster"]}, "TF_CONFIG task.type must be one of the cluster's jobs"),
    ({**GOOD, "task": {"type": "chief", "index": 0}}, "TF_CONFIG task.type must be one of"),
    ({**GOOD, "task": {"type": "worker", "index": 2}},
     "TF_CONFIG task.index must be 0..1 (the worker list has 2). Received: index=2"),
    ({**GOOD, "task": {"type": "worker"}}, "TF_CONFIG task.index must be 0..1"),
    ({**GOOD, "task": {"type": "worker", "index": "0"}}, "Received: index='0'"),
    ({**GOOD, "task": {"type": "worker", "index": True}}, "Received: index=True"),
])
def test_bad_tf_config(monkeypatch, value, fragment):
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value if isinstance(value, str) else json.dumps(value))
    with pytest.raises(ConfigError, match="TF_CONFIG") as info:
        strategy_for("multi_worker")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value) and info.value.exit_code == 3


def test_strategy_kinds(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(GOOD))
    assert tf_config() == GOOD
    assert strategy_for("none") is None
    assert describe(None) == {"kind": "none", "replicas": 1, "worker_index": 0,
                              "num_workers": 1}
    assert is_chief(None)
    with pytest.raises(ConfigError, match="Unknown strategy. Received: 'tpu'"):
        strategy_for("tpu")


# ------------------------------------------------------- through the CLI, two workers


def _cli_workers(args: list[str], hosts: list[str]) -> list[subprocess.Popen]:
    procs = []
    for i in range(len(hosts)):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
               "TF_CONFIG": json.dumps({"cluster": {"worker": hosts},
                                        "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen([sys.executable, "-m", "lstmcli", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def test_two_cli_workers_killed_and_restarted_match_one_process(tmp_path, cli):
    """`lstmcli train --distribute multi_worker` on two real workers (127.0.0.1): both are
    killed once mid-training and started again; they resume from their BackupAndRestore
    backups, the chief alone writes the run directory, and its weights equal one process
    trained with the same seed and global batch (8 = 4 per replica x 2). The run loads and
    predicts."""
    import time

    from conftest import TINY, wide_csv, write_yaml
    from lstmcli.runs.bundle import load_bundle

    data = wide_csv(tmp_path / "d.csv", n=120)
    training = {**TINY["training"], "epochs": 12, "shuffle": False,
                "early_stopping": {"enabled": False}}
    per_replica = write_yaml(tmp_path / "w.yaml", {**TINY, "training": {
        **training, "batch_size": 4}})
    single = write_yaml(tmp_path / "s.yaml", {**TINY, "training": {
        **training, "batch_size": 8, "jit_compile": False}})
    run = tmp_path / "run"
    args = ["train", str(data), "-c", str(per_replica), "-o", str(run), "--distribute",
            "multi_worker"]
    backup = tmp_path / ".run.backup-worker-0" / "training_metadata.json"
    procs = _cli_workers(args, [f"127.0.0.1:{p}" for p in _free_ports(2)])
    t0 = time.monotonic()
    while not backup.exists() and time.monotonic() - t0 < 60 and procs[0].poll() is None:
        time.sleep(0.05)
    for p in procs:
        p.kill()
        p.communicate(timeout=30)
    assert backup.exists() and not run.exists()

    procs = _cli_workers(args, [f"127.0.0.1:{p}" for p in _free_ports(2)])
    errs = [p.communicate(timeout=120)[1] for p in procs]
    for i, p in enumerate(procs):
        assert p.returncode == 0, f"worker {i}: {errs[i][-3000:]}"
    assert "resumed from this worker's backup after epoch" in errs[0]
    assert "global batch 8 = training.batch_size 4 per replica x 2" in errs[0]
    assert "worker-1 is not the chief: it writes nothing" in errs[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "run", "s.yaml", "w.yaml"]

    cli("train", data, "-c", single, "-o", tmp_path / "one", "--quiet")
    a, b = load_bundle(run), load_bundle(tmp_path / "one")
    assert a.meta.training["epochs_run"] == 12
    assert a.meta.training["distribute"]["replicas"] == 2
    for x, y in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)
    result = cli("rollout", data, "-m", run, "-H", "3")
    assert len(result.stdout.strip().splitlines()) == 4


def test_stateful_training_is_refused_under_a_strategy(tmp_path, cli):
    from conftest import TINY, wide_csv, write_yaml

    data = wide_csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {**TINY["training"],
                                                                 "mode": "stateful"}})
    result = cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--distribute", "mirrored",
                 code=3)
    assert "stateful training runs unsharded" in result.stderr
    assert "--distribute" in result.stderr
