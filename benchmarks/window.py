"""Windowing a 2,000,000-row x 8-feature series with look_back 168: time and peak memory.

    python benchmarks/window.py [--rows 2000000]

Generates the CSV in a temporary folder (not kept), then runs, each as its own process
under GNU time: an interpreter that only imports numpy and pandas and reads the CSV (the
floor), `lstmcli window` without --out, and one training epoch of `lstmcli train` over the
same data (stride 50 so the epoch is short; the data path holds the same arrays whatever
the stride). The raw data is rows x 8 x 4 bytes (float32); materialised windows would be
look_back times that.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from _common import LSTMCLI, PY, machine, median, timed_run

LOOK_BACK, FEATURES = 168, 8


def make_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    cols = [np.sin(2 * np.pi * t / 24 + k) + 0.1 * rng.normal(size=rows) for k in range(FEATURES)]
    header = ",".join(["ds"] + [f"f{k}" for k in range(FEATURES)])
    stamps = np.datetime_as_string(np.datetime64("2000-01-01T00:00") +
                                   t.astype("timedelta64[h]"), unit="m")
    with path.open("w") as fh:
        fh.write(header + "\n")
        for start in range(0, rows, 200_000):
            block = np.column_stack([c[start:start + 200_000] for c in cols])
            lines = [s + "," + ",".join(f"{v:.4f}" for v in row)
                     for s, row in zip(stamps[start:start + 200_000], block, strict=True)]
            fh.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    raw_mib = args.rows * FEATURES * 4 / 2**20
    print(f"machine: {machine()}")
    print(f"data: {args.rows:,} rows x {FEATURES} features, look_back {LOOK_BACK}; raw float32 "
          f"{raw_mib:.0f} MiB; materialised windows would be {raw_mib * LOOK_BACK / 1024:.1f} GiB")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "big.csv"
        make_csv(csv, args.rows)
        print(f"csv: {csv.stat().st_size / 2**20:.0f} MiB on disk")
        cfg = tmp / "w.yaml"
        cfg.write_text(f"window: {{look_back: {LOOK_BACK}}}\n"
                       "model: {layers: [{units: 8}]}\n"
                       "training: {epochs: 1, batch_size: 256, validation: 0.05, seed: 0}\n")
        train_cfg = tmp / "t.yaml"
        train_cfg.write_text(cfg.read_text().replace("look_back: 168}",
                                                     "look_back: 168, stride: 50}"))
        floor_code = (f"import numpy, pandas; df = pandas.read_csv({str(csv)!r}); "
                      "v = df.iloc[:, 1:].to_numpy('float64')")
        rows = {"baseline: python importing lstmcli's modules and pandas": [],
                "baseline: python -c 'import keras' (TensorFlow)": [],
                "floor: python + pandas.read_csv of the file": [],
                "lstmcli window (no --out)": [],
                "lstmcli train, 1 epoch (stride 50)": []}
        window_s, read_s = [], []
        for _ in range(args.repeats):
            s, kb, _ = timed_run([PY, "-c", "import pandas, lstmcli.cli, lstmcli.api, "
                                  "lstmcli.render"])
            rows["baseline: python importing lstmcli's modules and pandas"].append((s, kb))
            s, kb, _ = timed_run([PY, "-c", "import keras"])
            rows["baseline: python -c 'import keras' (TensorFlow)"].append((s, kb))
            s, kb, _ = timed_run([PY, "-c", floor_code])
            rows["floor: python + pandas.read_csv of the file"].append((s, kb))
            s, kb, out = timed_run([LSTMCLI, "window", str(csv), "-c", str(cfg), "--json"])
            assert out.returncode == 0, out.stderr
            summary = json.loads(out.stdout)
            window_s.append(summary["seconds"]["window"])
            read_s.append(summary["seconds"]["read"])
            rows["lstmcli window (no --out)"].append((s, kb))
            s, kb, out = timed_run([LSTMCLI, "train", str(csv), "-c", str(train_cfg), "-o",
                                    str(tmp / "run"), "--force", "-q"])
            assert out.returncode == 0, out.stderr
            rows["lstmcli train, 1 epoch (stride 50)"].append((s, kb))
        print(f"x_shape reported by window: {summary['x_shape']}")
        print(f"{'process':56s} {'wall s':>8s} {'peak RSS MiB':>13s} {'x raw':>6s}")
        peaks = {}
        for name, vals in rows.items():
            wall = median([v[0] for v in vals])
            peaks[name] = peak = median([v[1] for v in vals]) / 1024
            print(f"{name:56s} {wall:8.2f} {peak:13.0f} {peak / raw_mib:6.1f}")
        base = peaks["baseline: python importing lstmcli's modules and pandas"]
        tf_base = peaks["baseline: python -c 'import keras' (TensorFlow)"]
        win = peaks["lstmcli window (no --out)"] - base
        trn = peaks["lstmcli train, 1 epoch (stride 50)"] - tf_base
        print(f"above its baseline: window +{win:.0f} MiB ({win / raw_mib:.1f}x raw), "
              f"train +{trn:.0f} MiB ({trn / raw_mib:.1f}x raw)")
        print(f"inside lstmcli window: read+parse {median(read_s):.2f} s, "
              f"windowing {median(window_s) * 1000:.2f} ms (medians of {args.repeats})")


if __name__ == "__main__":
    main()
