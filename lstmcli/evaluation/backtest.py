"""Scoring forecasts on data the model has not seen: rolling-origin backtests and held-out
tails, side by side with the Naive and Seasonal-Naive baselines on the same origins.

    backtest: for each origin, train on the rows before it only (a real `train` on a
              truncated copy of the CSV), roll out H steps, score against the truth.
    evaluate: cut the last H rows of each series, roll an existing run out from there.

Origins are counted from each series' end: with K origins and step S (default H), the
forecasts start at rows n - H - (K-1)·S, ..., n - H, so the last origin forecasts the last
H rows. An origin is the last row a forecast knows, the row before its first step (the
`origin` of the scores, as in `predict`: columns.py). MASE divides by the in-sample
Seasonal-Naive MAE of the rows up to the origin, with the season length from
data.season_length or the frequency.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import Config
from lstmcli.data.read import INDEX_TIME_NAME, Frame
from lstmcli.errors import DataError, UsageError
from lstmcli.evaluation import metrics
from lstmcli.runs.files import write_atomic
from lstmcli.training.layouts import resolved

METHODS = ("lstm", "naive", "seasonal_naive")
MEASURES = ("mae", "rmse", "smape", "mase")


@dataclass
class Forecasts:
    """What one origin produced for one series: truth, the model and the baselines."""

    series: str
    origin: object  # time stamp of the last known row (the forecast starts after it)
    history: np.ndarray  # (cut, targets) rows before the origin
    history_ds: pd.Index  # (cut,) their time stamps
    truth: np.ndarray  # (H, targets)
    stamps: pd.Index  # (H,) time stamps of the forecast steps, named as the time column
    preds: dict[str, np.ndarray]  # method -> (H, targets)
    bands: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # lstm's


def season_of(config: Config, frame: Frame) -> int:
    return config.data.season_length or metrics.season_length(frame.freq)


def cut_frame(frame: Frame, cuts: dict[str, int]) -> Frame:
    """A copy of `frame` with each series cut to its first `cuts[id]` rows, where the
    frame's store lives (on disk: a temporary directory of its own)."""
    from dataclasses import replace

    from lstmcli.data.store import removed_with, store_of, temporary_directory

    directory = temporary_directory() if frame.store.on_disk else None
    store = store_of([(s.id, s.ds[:cuts[s.id]], s.values[:cuts[s.id]])
                      for s in frame.series if s.id in cuts], len(frame.columns), directory)
    if directory is not None:
        removed_with(store, directory)
    return replace(frame, store=store, notes=[])


def _forecast_table(table: pd.DataFrame, frame: Frame) -> dict[str, tuple[np.ndarray, dict]]:
    """Rollout output rows back to per series id: (H, targets) forecasts and the interval
    bands {level: (lo, hi)} when the rollout has them."""
    from lstmcli.forecast import columns
    from lstmcli.forecast.intervals import LEVELS

    parts = ({frame.series[0].id: table} if frame.series_col is None else
             {str(sid): part for sid, part in table.groupby(frame.series_col, sort=False)})
    out = {}
    for sid, part in parts.items():
        bands = {}
        for level in LEVELS:
            lo = [columns.bound(t, "lo", level) for t in frame.targets]
            hi = [columns.bound(t, "hi", level) for t in frame.targets]
            if all(c in part for c in lo + hi):
                bands[level] = (part[lo].to_numpy(dtype="float64"),
                                part[hi].to_numpy(dtype="float64"))
        forecasts = part[[columns.forecast(t) for t in frame.targets]]
        out[sid] = (forecasts.to_numpy(dtype="float64"), bands)
    return out


def _baselines(history: np.ndarray, horizon: int, season: int) -> dict[str, np.ndarray]:
    return {"naive": metrics.naive(history, horizon),
            "seasonal_naive": metrics.seasonal_naive(history, horizon, season)}


def _compare(frame: Frame, cuts: dict[str, int], preds: dict, horizon: int, season: int
             ) -> list[Forecasts]:
    """For each series cut at `cuts[id]`: the truth after the cut, the model's forecast
    from the rollout table and the baselines from the rows before it."""
    out = []
    for s in frame.series:
        if s.id not in cuts or s.id not in preds:
            continue
        cut = cuts[s.id]
        history = s.values[:cut][:, frame.target_idx]
        forecast, bands = preds[s.id]
        out.append(Forecasts(
            series=s.id, origin=s.ds[cut - 1], history=history, history_ds=s.ds[:cut],
            truth=s.values[cut:cut + horizon][:, frame.target_idx],
            stamps=s.ds[cut:cut + horizon].rename(frame.time_col or INDEX_TIME_NAME),
            bands=bands,
            preds={"lstm": forecast, **_baselines(history, horizon, season)}))
    return out


def score_rows(results: list[Forecasts], frame: Frame, season: int) -> pd.DataFrame:
    """One row per series, origin, method and target: mae, rmse, smape, mase."""
    rows = []
    for r in results:
        for method, pred in r.preds.items():
            for k, target in enumerate(frame.targets):
                row = {"series": r.series, "origin": _text(r.origin), "method": method,
                       "target": target}
                row.update(metrics.scores(pred[:, k], r.truth[:, k], r.history[:, k], season))
                if method == "lstm":
                    for level, (lo, hi) in r.bands.items():
                        row[f"coverage_{level}"] = metrics.coverage(lo[:, k], hi[:, k],
                                                                    r.truth[:, k])
                rows.append(row)
    return pd.DataFrame.from_records(rows)


def summarise(scores: pd.DataFrame) -> dict:
    """Means per method, and where the model loses to a baseline on MASE."""
    overall = {m: {k: float(v) for k, v in part[list(MEASURES)].mean().items()}
               for m, part in scores.groupby("method", sort=False)}
    keys = ["series", "origin", "target"]
    wide = scores.pivot_table(index=keys, columns="method", values="mase", aggfunc="first")
    beats = {b: float((wide["lstm"] < wide[b]).mean()) for b in METHODS[1:] if b in wide}
    coverage = {c.split("_")[1]: float(scores[c].mean()) for c in scores.columns
                if c.startswith("coverage_") and scores[c].notna().any()}
    return {"overall": overall, "lstm_beats_on_mase": beats, "cases": int(len(wide)),
            "interval_coverage": coverage}


def _stamp_like(value, example):
    """A time stamp from bundle.json (ISO text or a step number) in the type of `example`."""
    return pd.Timestamp(value) if isinstance(example, pd.Timestamp) else int(value)


def _text(stamp) -> str:
    if isinstance(stamp, pd.Timestamp):
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()
    return str(stamp)


def backtest(data_path: str | Path, config: Config | None, *, horizon: int, origins: int,
             step: int | None = None, epochs: int | None = None,
             options: dict | None = None,
             on_origin: Callable[[int, int, float], None] | None = None
             ) -> tuple[pd.DataFrame, list[Forecasts], dict]:
    """Rolling-origin evaluation: K trainings, each on the rows before its origin only.
    options: data keys set on the command line (see `api.train`)."""
    from lstmcli import api

    t0 = time.perf_counter()
    if horizon < 1 or origins < 1 or (step is not None and step < 1):
        raise UsageError(f"--horizon, --origins and --step must be >= 1. Received: horizon "
                         f"{horizon}, origins {origins}, step {step}")
    step = step or horizon
    if config is None:  # what `train` without --config would pick, from all the rows
        from lstmcli.evaluation.defaults import picked

        config, frame, notes = picked(data_path, horizon=horizon,
                                      spec=api.options_spec(options), command="backtest")
    else:
        config = api.with_options(config, options)
        if config.data.future:
            raise UsageError("backtest: data.future (covariates known ahead) is not supported "
                             "by backtest yet; backtest without it, or score rollouts by hand")
        frame, notes = api.read_data(data_path, config.data), []
    config = resolved(config, frame)
    season = season_of(config, frame)
    longest = max(len(s) for s in frame.series)
    back = horizon + (origins - 1) * step
    if back >= longest:
        raise DataError(f"{data_path}: {origins} origin(s) of horizon {horizon} every {step} "
                        f"step(s) reach {back} rows back, but the longest series has "
                        f"{longest}; lower --origins or --horizon")
    results: list[Forecasts] = []
    with tempfile.TemporaryDirectory(prefix="lstmcli-backtest-") as tmp:
        for k in range(origins):
            t1 = time.perf_counter()
            back_k = horizon + (origins - 1 - k) * step
            cuts = {s.id: len(s) - back_k for s in frame.series
                    if len(s) - back_k > 0}
            part = cut_frame(frame, cuts)
            run = Path(tmp) / f"run{k}"
            try:
                api.train(part, config, out=run, epochs=epochs, force=True)
            except DataError as exc:
                raise DataError(f"{data_path}: origin {k + 1} of {origins} ({back_k} rows "
                                f"before the end): {exc}") from None
            table, summary = api.rollout(part, run, horizon=horizon, shown=data_path)
            notes += [n for n in summary["notes"] if n not in notes]
            results += _compare(frame, cuts, _forecast_table(table, frame), horizon, season)
            if on_origin is not None:
                on_origin(k + 1, origins, time.perf_counter() - t1)
    scores = score_rows(results, frame, season)
    summary = {"command": "backtest", "data": str(data_path), "horizon": horizon,
               "origins": origins, "step": step, "season_length": season,
               "targets": frame.targets,
               "series": len(frame.series), **summarise(scores),
               "notes": frame.notes + notes, "seconds": round(time.perf_counter() - t0, 3)}
    return scores, results, summary


def evaluate(data_path: str | Path, run_dir: str | Path, *, horizon: int
             ) -> tuple[pd.DataFrame, list[Forecasts], dict]:
    """Score an existing run on the last `horizon` rows of each series: it forecasts them
    from the rows before, without retraining."""
    from lstmcli import api
    from lstmcli.runs.bundle import load_bundle
    from lstmcli.runs.datacheck import check_columns

    t0 = time.perf_counter()
    if horizon < 1:
        raise UsageError(f"--horizon must be >= 1. Received: {horizon}")
    bundle = load_bundle(run_dir)
    if bundle.config.data.future:
        raise UsageError("evaluate: data.future (covariates known ahead) is not supported by "
                         "evaluate yet")
    check_columns(data_path, bundle.config, run_dir)
    frame = api.read_data(data_path, bundle.config.data, fallback_freq=bundle.meta.freq)
    season = season_of(bundle.config, frame)
    cuts = {s.id: len(s) - horizon for s in frame.series
            if len(s) - horizon > 0}
    if not cuts:
        raise DataError(f"{data_path}: every series is {horizon} rows or shorter; nothing is "
                        "left to forecast from")
    notes = []
    trained_to = bundle.meta.last_ds
    seen = [s.id for s in frame.series
            if s.id in cuts and s.id in trained_to and s.ds[cuts[s.id]] <= _stamp_like(
                trained_to[s.id], s.ds[0])]
    if seen:
        notes.append(f"the model was trained on rows that include the evaluated tail of "
                     f"{len(seen)} series (e.g. '{seen[0]}'): these scores are optimistic; "
                     "evaluate on rows after the training data, or use `lstmcli backtest`")
    table, summary = api.rollout(cut_frame(frame, cuts), run_dir, horizon=horizon,
                                 shown=data_path)
    results = _compare(frame, cuts, _forecast_table(table, frame), horizon, season)
    scores = score_rows(results, frame, season)
    return scores, results, {
        "command": "evaluate", "data": str(data_path), "run_dir": str(run_dir),
        "horizon": horizon, "season_length": season, "series": len(results),
        "targets": frame.targets,
        **summarise(scores), "notes": frame.notes + summary["notes"] + notes,
        "seconds": round(time.perf_counter() - t0, 3)}


def write_scores(scores: pd.DataFrame, path: str | Path) -> None:
    with write_atomic(path) as fh:
        scores.to_csv(fh, index=False, float_format="%.6g")
