"""Streaming training from a long-format CSV: time and peak memory at two file sizes.

    python benchmarks/stream.py [--gb 0.5] [--dir DIR] [--series 64] [--repeats 1]
    python benchmarks/stream.py --gb 2        # the "several GB" figure: 2 GB and 4 GB files
    python benchmarks/stream.py --stateful-only --interleaved   # stateful, both file layouts

Writes two long-format CSVs (unique_id, ds, y, x; --series series of minute rows, each
series' rows together) of --gb and 2 x --gb in a temporary folder (or under --dir), deleted
afterwards. Then runs each step as its own process under GNU time, so that every peak RSS
is that process's own:

  baseline   python importing keras (TensorFlow) and lstmcli.data.read: the floor of training;
             python importing lstmcli.data.read (pandas): the floor of read_series
  stream     read_series into a store on disk (data.stream), split_windows (the scaler and
             the scaled float32 copy the windows are cut from) and two epochs of an LSTM(8),
             look_back 24, stride 997, batch 256; at both sizes.
             The first epoch includes tracing and XLA compilation; the second is the
             steady state the speeds are quoted from
  in-memory  read_series of the smaller file: what `lstmcli train` holds before windowing
             (--no-in-memory skips it)
  commands   `lstmcli train` (one epoch) and `lstmcli rollout -H 24` with data.stream: true
             on both files, as a user runs them
  stateful   `lstmcli train` (one epoch) and `lstmcli rollout -H 24` of a stateful
             many_to_many LSTM(8), one batch row per series, chunks of 240 steps, on both
             files, and with --interleaved also on files of the same rows sorted by time
             (grouped by series on disk while the store is built)

The goal: the streaming peak is the same at both sizes and far below the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import PY, machine, median, timed_run

LOOK_BACK, STRIDE, BATCH = 24, 997, 256
PLACEHOLDER = "s000,"  # series id written into the template block, replaced per series


def _block(rows: int, variant: int) -> bytes:
    """The CSV text of one series (id PLACEHOLDER), minute steps from 2000-01-01."""
    import pandas as pd

    rng = np.random.default_rng(variant)
    t = np.arange(rows)
    stamps = np.datetime_as_string(np.datetime64("2000-01-01T00:00") +
                                   t.astype("timedelta64[m]"), unit="m")
    df = pd.DataFrame({"unique_id": PLACEHOLDER[:-1], "ds": stamps,
                       "y": 10 * variant + np.sin(2 * np.pi * t / 1440 + variant)
                       + 0.1 * rng.normal(size=rows),
                       "x": np.cos(2 * np.pi * t / 60) + 0.1 * rng.normal(size=rows)})
    return df.to_csv(header=False, index=False, float_format="%.4f").encode()


def make_csv(path: Path, *, gb: float, series: int) -> int:
    """A long-format CSV of about `gb` GB; returns its rows. Four distinct series texts are
    generated and reused with their ids replaced: fast, and every series is contiguous."""
    per_row = len(_block(1000, 0)) / 1000
    rows = max(LOOK_BACK * 4, int(gb * 1e9 / per_row / series))
    blocks = [_block(rows, v) for v in range(min(4, series))]
    with path.open("wb") as fh:
        fh.write(b"unique_id,ds,y,x\n")
        for i in range(series):
            fh.write(blocks[i % len(blocks)].replace(PLACEHOLDER.encode(),
                                                     f"s{i:03d},".encode()))
    return rows * series


def make_interleaved_csv(path: Path, *, rows: int, series: int, piece: int = 4096) -> None:
    """The rows of `make_csv`'s series, sorted by time (all series' minute t, then t + 1):
    the layout that makes stateful streaming read one pass per row group."""
    import pandas as pd

    with path.open("wb") as fh:
        fh.write(b"unique_id,ds,y,x\n")
        ids = np.array([f"s{i:03d}" for i in range(series)])
        for a in range(0, rows, piece):
            t = np.arange(a, min(a + piece, rows))
            stamps = np.datetime_as_string(np.datetime64("2000-01-01T00:00") +
                                           t.astype("timedelta64[m]"), unit="m")
            v = (np.arange(series) % 4)[None, :]
            y = 10 * v + np.sin(2 * np.pi * t[:, None] / 1440 + v)
            x = np.cos(2 * np.pi * t[:, None] / 60) + 0 * v
            pd.DataFrame({"unique_id": np.tile(ids, len(t)), "ds": np.repeat(stamps, series),
                          "y": y.ravel(), "x": x.ravel()}).to_csv(
                fh, header=False, index=False, float_format="%.4f")


def _config(stride: int):
    from lstmcli.config import config_from_dict

    return config_from_dict({
        "window": {"look_back": LOOK_BACK, "stride": stride},
        "model": {"layers": [{"units": 8}]},
        "training": {"epochs": 2, "batch_size": BATCH, "validation": 0.1, "seed": 0,
                     "checkpoint_every": 0}})


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_stream(path: str) -> dict:
    """read_series into a store on disk (data.stream) + split_windows (scaler, the scaled
    float32 copy) + two epochs, each timed, with the peak RSS after each."""
    from lstmcli.data.read import read_series
    from lstmcli.models.backend import import_keras
    from lstmcli.models.topology import build_model
    from lstmcli.training.fit import fit, seed_everything
    from lstmcli.training.layouts import resolved, split_windows

    import_keras()
    out = {"peak_after_import": _peak_mib()}
    cfg = _config(STRIDE)
    store = Path(tempfile.mkdtemp(prefix="store-", dir=Path(path).parent))
    try:
        t0 = time.perf_counter()
        frame = read_series(path, cfg.data, store_dir=store)
        out.update(scan_s=time.perf_counter() - t0, peak_after_scan=_peak_mib(),
                   rows=frame.store.n_rows, series=len(frame.series))
        t0 = time.perf_counter()
        cfg = resolved(cfg, frame)
        _, data, _ = split_windows(frame, cfg)
        out.update(fit_s=time.perf_counter() - t0, peak_after_fit=_peak_mib())
        seed_everything(0)
        model = build_model(cfg.model, look_back=LOOK_BACK, n_features=2, horizon=1,
                            n_targets=2, stateful=False, batch_size=BATCH, first_input=[0, 1],
                            masking=False)
        t0 = time.perf_counter()
        result = fit(model, data, cfg.training)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    first, second = result.history[:2]
    out.update(fit_s_total=time.perf_counter() - t0, epoch1_s=first["seconds"],
               epoch_s=second["seconds"], loss=second["loss"], val_loss=second["val_loss"],
               n_train=data.n_train, n_val=data.n_val, peak_after_epoch=_peak_mib())
    return out


def child_in_memory(path: str) -> dict:
    from lstmcli.config import DataSpec
    from lstmcli.data.read import read_series

    t0 = time.perf_counter()
    frame = read_series(path, DataSpec())
    return {"read_s": time.perf_counter() - t0, "rows": sum(len(s.values) for s in frame.series)}


STATEFUL = {"data": {"stream": True, "scaling": "standard"}, "window": {"look_back": 240},
            "model": {"topology": "many_to_many", "layers": [{"units": 8}]},
            "training": {"mode": "stateful", "chunk_length": 240, "epochs": 1,
                         "validation": 0.1, "seed": 0}}


def cli_runs(tmp: Path, files: list, *, stateful: int = 0) -> list:
    """`lstmcli train --epochs 1` and `lstmcli rollout -H 24` on each file, streaming;
    stateful: a stateful many_to_many model with that many batch rows (one per series)."""
    from _common import LSTMCLI

    cfg = tmp / "stream.yaml"
    doc = {"data": {"stream": True}, "window": {"look_back": LOOK_BACK, "stride": STRIDE},
           "model": {"layers": [{"units": 8}]},
           "training": {"epochs": 1, "batch_size": BATCH, "validation": 0.1, "seed": 0}}
    if stateful:
        doc = {**STATEFUL, "training": {**STATEFUL["training"], "batch_size": stateful}}
    cfg.write_text(json.dumps(doc))
    rows = []
    for path, mb in files:
        run = tmp / f"run_{path.stem}"
        for step, cmd in (
                ("lstmcli train (read, scale, 1 epoch)",
                 [LSTMCLI, "train", str(path), "-c", str(cfg), "-o", str(run), "--quiet",
                  "--force"]),
                ("lstmcli rollout -H 24 (read, forecast)",
                 [LSTMCLI, "rollout", str(path), "-m", str(run), "-H", "24", "-o",
                  str(tmp / f"forecast_{path.stem}.csv"), "--quiet"])):
            wall, kb, proc = timed_run(cmd)
            if proc.returncode:
                sys.exit(f"{step} failed:\n{proc.stderr[-3000:]}")
            rows.append((mb, step, wall, kb / 1024))
    return rows


def _print_cli(title: str, rows: list) -> None:
    print(title)
    for mb, step, wall, peak in rows:
        print(f"  {mb:8,.0f} MB  {step:40s} {wall:7.1f} s  {peak:7,.0f} MiB  "
              f"({mb / wall:.0f} MB/s of CSV)")


def _child(args: list[str]) -> list:
    """Run this file as a child step under GNU time: (wall s, peak MiB, its JSON)."""
    wall, kb, proc = timed_run([PY, __file__, "--child", *args], cwd=Path(__file__).parent)
    if proc.returncode:
        sys.exit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return [wall, kb / 1024, json.loads(proc.stdout.strip().splitlines()[-1])]


def stateless_report(args, tmp: Path, files: list) -> None:
    """The stateless steps and commands at both sizes (see the module's doc)."""
    print(f"stream: LSTM(8), look_back {LOOK_BACK}, stride {STRIDE}, batch {BATCH}, "
          "validation 0.1, the store on disk; "
          f"medians of {args.repeats}")
    table = []
    runs = [_child(["baseline", "-"]) for _ in range(args.repeats)]
    table.append(("baseline: import keras + lstmcli.data.read", None, runs))
    base = median([r[1] for r in runs])
    runs = [_child(["baseline_data", "-"]) for _ in range(args.repeats)]
    table.append(("baseline: import lstmcli.data.read (pandas)", None, runs))
    data_base = median([r[1] for r in runs])
    details = []
    for path, mb in files:
        runs = [_child(["stream", str(path)]) for _ in range(args.repeats)]
        table.append(("stream: read + scale + 2 epochs", mb, runs))
        details.append((mb, runs))
    if not args.no_in_memory:
        path, mb = files[0]
        runs = [_child(["in_memory", str(path)]) for _ in range(args.repeats)]
        table.append(("in-memory: read_series", mb, runs))

    print(f"{'process':42s} {'file MB':>8s} {'wall s':>8s} {'peak RSS MiB':>13s} "
          f"{'over its floor':>14s}")
    for name, mb, runs in table:
        peak = median([r[1] for r in runs])
        floor = {"stream": base, "in-memory": data_base}.get(name.split(":")[0], peak)
        size = f"{mb:8,.0f}" if mb else f"{'-':>8s}"
        print(f"{name:42s} {size} {median([r[0] for r in runs]):8.1f} {peak:13,.0f} "
              f"{peak - floor:14,.0f}")
    for mb, runs in details:
        j = {k: median([r[2][k] for r in runs]) for k in runs[0][2]}
        windows = j["n_train"] + j["n_val"]
        print(f"  {mb:,.0f} MB: read into the store {j['scan_s']:.1f} s "
              f"({mb / j['scan_s']:.0f} MB/s), scaler + scaled copy {j['fit_s']:.1f} s, epoch 1 "
              f"{j['epoch1_s']:.1f} s, epoch 2 "
              f"{j['epoch_s']:.1f} s for {j['n_train']:,} + {j['n_val']:,} windows "
              f"({windows / j['epoch_s']:,.0f} windows/s); loss {j['loss']:.4f}; peak MiB "
              f"after import {j['peak_after_import']:.0f}, read {j['peak_after_scan']:.0f}, "
              f"scale {j['peak_after_fit']:.0f}, epochs {j['peak_after_epoch']:.0f}")
    (small, s_runs), (big, b_runs) = details
    s_peak, b_peak = (median([r[1] for r in runs]) for runs in (s_runs, b_runs))
    print(f"peak RSS at {big / small:.1f}x the file: {b_peak / s_peak:.2f}x "
          f"({s_peak:,.0f} -> {b_peak:,.0f} MiB; over baseline {s_peak - base:,.0f} -> "
          f"{b_peak - base:,.0f} MiB; the files are {small:,.0f} and {big:,.0f} MB)")
    _print_cli("the commands, as a user runs them (data.stream: true; peak RSS of the "
               "process):", cli_runs(tmp, files))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=0.5, help="size of the smaller file")
    ap.add_argument("--series", type=int, default=64)
    ap.add_argument("--dir", type=Path, help="where to write the CSVs (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-in-memory", action="store_true", help="skip read_series")
    ap.add_argument("--no-stateful", action="store_true", help="skip the stateful commands")
    ap.add_argument("--stateful-only", action="store_true",
                    help="only the stateful commands (no stateless steps or commands)")
    ap.add_argument("--interleaved", action="store_true",
                    help="also time the stateful commands on files sorted by time")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        kind, path = args.child[0], args.child[1]
        if kind == "baseline":
            import lstmcli.data.read  # noqa: F401
            from lstmcli.models.backend import import_keras

            import_keras()
            res = {}
        elif kind == "baseline_data":
            import lstmcli.data.read  # noqa: F401

            res = {}
        elif kind == "stream":
            res = child_stream(path)
        else:
            res = child_in_memory(path)
        print(json.dumps(res))
        return

    print(f"machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="lstmcli-stream-", dir=args.dir))
    try:
        files, interleaved = [], []
        for gb in (args.gb, 2 * args.gb):
            path = tmp / f"long_{gb:g}gb.csv"
            t0 = time.perf_counter()
            rows = make_csv(path, gb=gb, series=args.series)
            mb = path.stat().st_size / 1e6
            print(f"csv: {path.name}: {rows:,} rows, {args.series} series, {mb:,.0f} MB "
                  f"(written in {time.perf_counter() - t0:.1f} s)")
            files.append((path, mb))
            if args.interleaved and not args.no_stateful:
                path = tmp / f"by_time_{gb:g}gb.csv"
                t0 = time.perf_counter()
                make_interleaved_csv(path, rows=rows // args.series, series=args.series)
                mb = path.stat().st_size / 1e6
                print(f"csv: {path.name}: the same number of rows sorted by time, {mb:,.0f} MB "
                      f"(written in {time.perf_counter() - t0:.1f} s)")
                interleaved.append((path, mb))
        if not args.stateful_only:
            stateless_report(args, tmp, files)
        if not args.no_stateful:
            _print_cli(f"stateful (LSTM(8) many_to_many, {args.series} batch rows, chunks of "
                       "240 steps), files sorted by series:",
                       cli_runs(tmp, files, stateful=args.series))
            if interleaved:
                _print_cli("stateful, files sorted by time:",
                           cli_runs(tmp, interleaved, stateful=args.series))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
