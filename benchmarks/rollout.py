"""Autoregressive rollout: ms per step, tutorial loops vs lstmcli's compiled rollout.

    python benchmarks/rollout.py [--repeats 3]

Part 1, in one process: LSTM(32) -> Dense(1), look_back 24, H = 200 steps, N series at once:
  (a) a Python loop calling model.predict(x) each step (the tutorials' way),
  (b) a Python loop calling model(x, training=False) each step,
  (c) lstmcli's rollout: the whole horizon in one compiled call,
  (d) lstmcli's stateful rollout: warm-up on 24 steps + 200 steps in one compiled call.
(a) and (b) are timed over 40 steps (their cost per step is flat); (c) and (d) over 200,
after one call that traces them (its time is shown as "first call").
Part 2, whole processes: `lstmcli rollout -H 200` on a model trained on 64 held-out
synthetic series vs a hand-written script that loads the same model.keras and loops
model.predict, each as a fresh process (imports included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import LSTMCLI, PY, machine, median, stopwatch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
LOOK_BACK, H, SLOW_STEPS = 24, 200, 40


def build(batch: int | None = None):
    from lstmcli.config import config_from_dict
    from lstmcli.models.topology import build_model

    cfg = config_from_dict({"window": {"look_back": LOOK_BACK},
                            "model": {"topology": "many_to_many" if batch else "many_to_one",
                                      "layers": [{"units": 32}]}})
    return build_model(cfg.model, look_back=LOOK_BACK, n_features=1, horizon=1, n_targets=1,
                       stateful=batch is not None, batch_size=batch)


def loop(step, x, steps):
    for _ in range(steps):
        y = np.asarray(step(x))
        x = np.concatenate([x, y], axis=1)[:, -LOOK_BACK:]


def part1(repeats: int) -> None:
    from lstmcli.forecast.loops import stateful_rollout, window_rollout
    from lstmcli.models.topology import reset_states

    model = build()
    print(f"{'N':>5s} {'(a) predict':>12s} {'(b) call':>10s} {'(c) lstmcli':>12s} "
          f"{'(d) stateful':>13s} {'c first':>8s} {'a/c':>7s} {'b/c':>6s}   ms per step")
    for n in (1, 64, 1024):
        x = np.random.default_rng(0).normal(size=(n, LOOK_BACK, 1)).astype("float32")
        a, b, c, d = [], [], [], []
        t = stopwatch()
        window_rollout(model, x, horizon=H, feedback=[0], per_step=False)
        first = t()
        twin = build(batch=n)
        reset_states(twin)
        stateful_rollout(twin, x, horizon=H, feedback=[0])
        for _ in range(repeats):
            t = stopwatch()
            loop(lambda v: model.predict(v, verbose=0), x, SLOW_STEPS)
            a.append(t() / SLOW_STEPS)
            t = stopwatch()
            loop(lambda v: model(v, training=False), x, SLOW_STEPS)
            b.append(t() / SLOW_STEPS)
            t = stopwatch()
            window_rollout(model, x, horizon=H, feedback=[0], per_step=False)
            c.append(t() / H)
            reset_states(twin)
            t = stopwatch()
            stateful_rollout(twin, x, horizon=H, feedback=[0])
            d.append(t() / H)
        a, b, c, d = (median(v) * 1000 for v in (a, b, c, d))
        print(f"{n:5d} {a:12.2f} {b:10.2f} {c:12.3f} {d:13.3f} {first:7.2f}s "
              f"{a / c:6.0f}x {b / c:5.0f}x")


HAND_WRITTEN = """
import json, sys, time, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, pandas as pd, keras
run, csv, H = sys.argv[1], sys.argv[2], int(sys.argv[3])
meta = json.load(open(run + "/bundle.json"))
model = keras.saving.load_model(run + "/model.keras")
shift, scale = meta["scaler"]["shift"][0], meta["scaler"]["scale"][0]
df = pd.read_csv(csv)
x = np.stack([(g["y"].to_numpy()[-24:] - shift) / scale for _, g in df.groupby("unique_id")])
x = x[..., None].astype("float32")
preds = []
for _ in range(H):
    y = model.predict(x, verbose=0)
    preds.append(y[:, 0, 0])
    x = np.concatenate([x, y], axis=1)[:, -24:]
print(np.stack(preds, 1).shape)
"""


def part2(repeats: int) -> None:
    from lstmcli import api
    from lstmcli.config import config_from_dict

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(1)
        frames = [pd.DataFrame({"unique_id": f"s{k}",
                                "ds": pd.date_range("2024-01-01", periods=300, freq="h"),
                                "y": np.sin(np.arange(300) / 4 + k) + rng.normal(0, .1, 300)})
                  for k in range(64)]
        csv = tmp / "heldout.csv"
        pd.concat(frames).to_csv(csv, index=False)
        cfg = config_from_dict({"window": {"look_back": LOOK_BACK},
                                "model": {"layers": [{"units": 32}]},
                                "training": {"epochs": 2, "seed": 0}})
        api.train(csv, cfg, out=tmp / "run")
        script = tmp / "hand.py"
        script.write_text(HAND_WRITTEN)
        ours, theirs = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([LSTMCLI, "rollout", str(csv), "-m", str(tmp / "run"), "-H", str(H),
                            "-o", str(tmp / "f.csv")], check=True, capture_output=True)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([PY, str(script), str(tmp / "run"), str(csv), str(H)], check=True,
                           capture_output=True)
            theirs.append(time.perf_counter() - t0)
        o, t = median(ours), median(theirs)
        print(f"whole process, 64 series, H={H}: lstmcli rollout {o:.2f} s, hand-written "
              f"model.predict loop {t:.2f} s -> {t / o:.1f}x (medians of {repeats})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from _common import tf_versions

    print(f"machine: {machine()}; {tf_versions()}")
    part1(args.repeats)
    part2(args.repeats)


if __name__ == "__main__":
    main()
