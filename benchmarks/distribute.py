"""Training under tf.distribute on this machine, and what per-epoch checkpoints cost.

    python benchmarks/distribute.py [--steps 20000] [--epochs 5]

Each case is one `lstmcli train` process (two for multi_worker, on 127.0.0.1) on the same
synthetic series, LSTM(32) -> Dense(1), look_back 24, global batch 128, no shuffle:
  none         - no strategy, XLA on (the default)
  none-noxla   - no strategy, XLA off
  ckpt-off     - none, with training.checkpoint_every: 0 (no checkpoints)
  mirrored     - MirroredStrategy (one CPU replica here; GPUs where there are some)
  multi_worker - MultiWorkerMirroredStrategy, 2 workers x batch 64, custom training loop,
                 XLA off (XLA cannot compile the all-reduce between CPU workers)
Epoch time = median over the epochs after the first (tracing and compilation excluded),
from each run's history.csv; wall = the whole process (both processes for multi_worker).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from _common import LSTMCLI, machine, median

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
       "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config(root: Path, name: str, epochs: int, batch: int, **training) -> Path:
    doc = {"window": {"look_back": 24}, "model": {"layers": [{"units": 32}]},
           "training": {"epochs": epochs, "batch_size": batch, "shuffle": False,
                        "early_stopping": {"enabled": False}, "validation": 0.1, **training}}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(root: Path, data: Path, name: str, cfg: Path, workers: int = 0) -> dict:
    out = root / f"run-{name}"
    args = [LSTMCLI, "train", str(data), "-c", str(cfg), "-o", str(out), "--quiet", "--force"]
    t0 = time.perf_counter()
    if workers:
        hosts = [f"127.0.0.1:{p}" for p in _ports(workers)]
        procs = [subprocess.Popen(args + ["--distribute", "multi_worker"], env={
            **ENV, "TF_CONFIG": json.dumps({"cluster": {"worker": hosts},
                                            "task": {"type": "worker", "index": i}})})
                 for i in range(workers)]
        codes = [p.wait() for p in procs]
    else:
        codes = [subprocess.run(args, env=ENV).returncode]
    wall = time.perf_counter() - t0
    assert codes == [0] * len(codes), codes
    with (out / "history.csv").open() as fh:
        seconds = [float(r["seconds"]) for r in csv.DictReader(fh)]
    return {"epoch": median(seconds[1:]), "first": seconds[0], "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = np.arange(args.steps)
        y = np.sin(2 * np.pi * t / 24) + 0.1 * np.random.default_rng(0).normal(size=t.size)
        data = root / "series.csv"
        np.savetxt(data, np.c_[t, y], delimiter=",", header="t,y", comments="", fmt="%d,%.6f")
        windows = int((args.steps * 0.9) - 24)
        e = args.epochs
        cases = [("none", _config(root, "none", e, 128), 0),
                 ("none-noxla", _config(root, "noxla", e, 128, jit_compile=False), 0),
                 ("ckpt-off", _config(root, "ckptoff", e, 128, checkpoint_every=0), 0),
                 ("mirrored", _config(root, "mirrored", e, 128, distribute="mirrored"), 0),
                 ("multi_worker", _config(root, "mw", e, 64), 2)]
        results = {name: run(root, data, name, cfg, workers) for name, cfg, workers in cases}
    print(f"{args.steps} steps, {windows} training windows per epoch, global batch 128")
    print(f"{'case':14s} {'epoch s':>8s} {'windows/s':>10s} {'first epoch s':>14s} "
          f"{'wall s':>7s} {'vs none':>8s}")
    base = results["none"]["epoch"]
    for name, r in results.items():
        print(f"{name:14s} {r['epoch']:8.3f} {windows / r['epoch']:10.0f} {r['first']:14.2f} "
              f"{r['wall']:7.1f} {r['epoch'] / base:7.2f}x")
    on, off = results["none"]["epoch"], results["ckpt-off"]["epoch"]
    print(f"checkpoint each epoch costs {on - off:+.3f} s per epoch ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
