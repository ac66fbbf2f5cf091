"""Training throughput: lstmcli's training path vs a plain default Keras `model.fit`.

    python benchmarks/train.py [--epochs 4] [--steps 100000]

LSTM(32) -> Dense(1), look_back 52, batch 32, Adam/MSE, no validation, in one process:
  plain   - keras.Sequential-style model, default compile, fit on the materialised
            [samples, 52, 1] array (the tutorials' way);
  lstmcli - the same network through lstmcli (XLA-compiled step, steps_per_execution,
            batches gathered from the series by a tf.data pipeline).
Windows per second = training windows / median epoch time, the first epoch (tracing and
compilation) excluded and reported separately. Two data sets: the real airline series
(sample_data/, 92 windows: small, mostly overhead) and a synthetic series of --steps steps.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import REPO, machine, median, tf_versions

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
LOOK_BACK, BATCH = 52, 32


def plain(series: np.ndarray, epochs: int) -> tuple[list[float], int]:
    import keras
    from numpy.lib.stride_tricks import sliding_window_view

    keras.utils.set_random_seed(0)
    x = sliding_window_view(series[:-1], LOOK_BACK)[..., None].astype("float32")
    y = series[LOOK_BACK:, None].astype("float32")
    model = keras.Sequential([keras.Input((LOOK_BACK, 1)), keras.layers.LSTM(32),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()])
    return times, len(x)


def lstmcli_fit(series: np.ndarray, epochs: int) -> tuple[list[float], int]:
    import pandas as pd

    from lstmcli.api import split_windows
    from lstmcli.config import config_from_dict
    from lstmcli.data.read import Frame
    from lstmcli.data.store import store_of
    from lstmcli.models.topology import build_model
    from lstmcli.training.fit import fit, seed_everything

    cfg = config_from_dict({"data": {"scaling": "none"}, "window": {"look_back": LOOK_BACK},
                            "model": {"layers": [{"units": 32}]},
                            "training": {"batch_size": BATCH, "epochs": epochs,
                                         "validation": 0, "seed": 0,
                                         "early_stopping": {"enabled": False}}})
    store = store_of([("s", pd.RangeIndex(len(series)), series[:, None])], 1)
    frame = Frame(path="bench", store=store, features=["y"], targets=["y"], time_col=None,
                  series_col=None, freq=1)
    seed_everything(0)
    _, data, _ = split_windows(frame, cfg)
    model = build_model(cfg.model, look_back=LOOK_BACK, n_features=1, horizon=1, n_targets=1)
    result = fit(model, data, cfg.training)
    return [r["seconds"] for r in result.history], data.n_train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    print(f"machine: {machine()}; {tf_versions()}")
    air = np.loadtxt(REPO / "sample_data" / "airline_passengers.csv", delimiter=",",
                     skiprows=1, usecols=1)
    rng = np.random.default_rng(0)
    t = np.arange(args.steps)
    synth = np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(2 * np.pi * t / 168) + 0.1 * rng.normal(
        size=args.steps)
    print(f"{'data':26s} {'windows':>8s} {'plain w/s':>10s} {'lstmcli w/s':>12s} {'ratio':>6s} "
          f"{'plain s/ep':>10s} {'lstmcli s/ep':>12s} {'first ep p/l':>13s}")
    for name, series in (("airline (real, 144 rows)", air), (f"synthetic ({args.steps:,})", synth)):
        series = ((series - series.min()) / (series.max() - series.min())).astype("float64")
        p_times, n = plain(series, args.epochs)
        l_times, n_l = lstmcli_fit(series, args.epochs)
        p, lt = median(p_times[1:]), median(l_times[1:])
        print(f"{name:26s} {n:8d} {n / p:10.0f} {n_l / lt:12.0f} {(n_l / lt) / (n / p):5.1f}x "
              f"{p:10.3f} {lt:12.3f} {p_times[0]:6.2f}/{l_times[0]:.2f}")


if __name__ == "__main__":
    main()
