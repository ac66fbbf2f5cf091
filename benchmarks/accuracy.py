"""Accuracy of `lstmcli train` without a config, on real public series, next to Naive,
Seasonal-Naive and AutoETS on the same rolling origins.

    pip install -e '.[bench]'          # statsmodels (the data sets) and statsforecast (AutoETS)
    python benchmarks/accuracy.py [--origins 3] [--only airline,co2] [--config CFG.yaml]

Series: the shipped airline passengers, and data sets that ship inside the statsmodels
wheel (nothing is downloaded): Mauna Loa CO2 (weekly, averaged to months), El Nino sea
surface temperatures (monthly), US macro data (quarterly real GDP, CPI, unemployment,
real consumption), sunspots and the Nile (yearly). For each series, `lstmcli backtest`
runs K origins (training on the rows before each origin only); AutoETS is fitted on the
same rows and scored with the same MASE scale (in-sample Seasonal-Naive MAE). The model
"wins" a series when its MASE, averaged over the origins, is below Seasonal-Naive's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import LSTMCLI, REPO, machine

sys.path.insert(0, str(REPO))
from lstmcli.evaluation import metrics  # noqa: E402


def datasets() -> dict[str, tuple[pd.DataFrame, str, int, int]]:
    """name -> (frame with `ds`, `y`; pandas freq; season length; horizon)."""
    import statsmodels.api as sm

    out = {}
    air = pd.read_csv(REPO / "sample_data" / "airline_passengers.csv")
    out["airline"] = (pd.DataFrame({"ds": pd.to_datetime(air["Month"]),
                                    "y": air["Passengers"]}), "MS", 12, 12)
    co2 = sm.datasets.co2.load_pandas().data["co2"].interpolate()
    co2 = co2.resample("MS").mean().dropna()
    out["co2"] = (pd.DataFrame({"ds": co2.index, "y": co2.to_numpy()}), "MS", 12, 12)
    nino = sm.datasets.elnino.load_pandas().data
    temps = nino.drop(columns="YEAR").to_numpy().ravel()
    out["elnino"] = (pd.DataFrame({"ds": pd.date_range(f"{int(nino.YEAR[0])}-01-01",
                                                       periods=len(temps), freq="MS"),
                                   "y": temps}), "MS", 12, 12)
    macro = sm.datasets.macrodata.load_pandas().data
    quarters = pd.date_range("1959-01-01", periods=len(macro), freq="QS")
    for col in ("realgdp", "cpi", "unemp", "realcons"):
        out[f"macro_{col}"] = (pd.DataFrame({"ds": quarters, "y": macro[col]}), "QS", 4, 8)
    sun = sm.datasets.sunspots.load_pandas().data
    out["sunspots"] = (pd.DataFrame({"ds": pd.to_datetime(sun["YEAR"].astype(int).astype(str)),
                                     "y": sun["SUNACTIVITY"]}), "YS", 1, 10)
    nile = sm.datasets.nile.load_pandas().data
    out["nile"] = (pd.DataFrame({"ds": pd.to_datetime(nile["year"].astype(int).astype(str)),
                                 "y": nile["volume"]}), "YS", 1, 10)
    return out


def auto_ets(history: np.ndarray, ds: pd.Series, horizon: int, season: int, freq: str
             ) -> np.ndarray:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    df = pd.DataFrame({"unique_id": "s", "ds": ds.to_numpy(), "y": history})
    sf = StatsForecast(models=[AutoETS(season_length=season)], freq=freq)
    return sf.forecast(df=df, h=horizon)["AutoETS"].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--origins", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--config", default=None, help="a config instead of the automatic one")
    args = ap.parse_args()
    print(machine())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (df, freq, season, horizon) in datasets().items():
            if args.only and name not in args.only.split(","):
                continue
            path = Path(tmp) / f"{name}.csv"
            df.assign(ds=df["ds"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
            cmd = [LSTMCLI, "backtest", str(path), "-H", str(horizon), "-k",
                   str(args.origins), "--json", "--quiet"]
            if args.config:
                cmd += ["-c", args.config]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                print(f"{name}: lstmcli failed: {done.stderr.strip()}")
                continue
            doc = json.loads(done.stdout)
            seconds = time.perf_counter() - t0
            scores = pd.DataFrame(doc["scores"])
            y = df["y"].to_numpy(dtype="float64")
            ets = []
            for origin in scores["origin"].unique():
                # the origin is the last row the forecast knows
                cut = int(np.flatnonzero(df["ds"].dt.strftime("%Y-%m-%d") == origin)[0]) + 1
                pred = auto_ets(y[:cut], df["ds"][:cut], horizon, season, freq)
                ets.append(metrics.mase(pred, y[cut:cut + horizon], y[:cut], season))
            mase = scores.groupby("method")["mase"].mean()
            cover = doc.get("interval_coverage", {})
            rows.append({"series": name, "n": len(y), "freq": freq, "m": season, "H": horizon,
                         "lstm": mase["lstm"], "naive": mase["naive"],
                         "snaive": mase["seasonal_naive"], "autoets": float(np.mean(ets)),
                         "cover80": cover.get("80", np.nan), "seconds": seconds})
            r = rows[-1]
            print(f"{name:16s} n={r['n']:4d} H={horizon:2d}  MASE lstm {r['lstm']:.3f}  naive "
                  f"{r['naive']:.3f}  snaive {r['snaive']:.3f}  AutoETS {r['autoets']:.3f}  "
                  f"({seconds:.0f}s)", flush=True)
    table = pd.DataFrame(rows)
    wins = (table["lstm"] < table["snaive"]).mean()
    print(f"\n{args.origins} origins per series; MASE averaged over origins")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"lstm beats Seasonal-Naive on {wins:.0%} of {len(table)} series; "
          f"beats AutoETS on {(table['lstm'] < table['autoets']).mean():.0%}; "
          f"median MASE lstm {table['lstm'].median():.3f}, snaive {table['snaive'].median():.3f}"
          f", AutoETS {table['autoets'].median():.3f}")


if __name__ == "__main__":
    main()
