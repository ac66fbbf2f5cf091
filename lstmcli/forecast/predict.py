"""`lstmcli predict` and `lstmcli rollout`: forecasts from a run and a CSV, in original
units, with real time stamps, interval bounds and the output columns of columns.py."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.data.read import Frame
from lstmcli.data.scaling import Scaler
from lstmcli.errors import DataError, ModelError, listed
from lstmcli.runs.rundata import (
    feedback_order,
    floor_of,
    future_stamps,
    load_run,
    per_step_model,
    read_future,
    runs_whole_history,
    time_name,
)
from lstmcli.training.windows import edge_padded, input_windows


def _scaled_inputs(frame: Frame, scaler: Scaler, config, *, tail: bool = False
                   ) -> tuple[list, list[str]]:
    """(series, scaled feature rows as float32) for every series with at least
    `config.min_input` rows, its first row repeated in front `config.pad` times (window.
    min_input); tail: only the last look_back rows of that (a rollout's inputs)."""
    look_back, least = config.window.look_back, config.min_input
    used, notes = [], []
    for s in frame.series:
        if len(s) < least:
            notes.append(f"series '{s.id}' skipped: {len(s)} rows < {config.input_rows}")
            continue
        rows = scaler.of(s.id).transform(s.values[-look_back:] if tail else s.values)
        rows = edge_padded(rows[:, frame.feature_idx].astype("float32"),
                           look_back if tail else len(s) + config.pad)
        used.append((s, rows))
    if not used:
        raise DataError(f"{frame.path}: every series is shorter than {config.input_rows}")
    return used, notes


def _last_windows(used: list, look_back: int) -> np.ndarray:
    """(series, look_back, features): the final window of each series."""
    return np.stack([rows[-look_back:] for _, rows in used])


def _batched(views: list[np.ndarray], size: int):
    """Yield batches of about `size` windows from per-series window views, copying only
    one batch at a time."""
    pending, count = [], 0
    for v in views:
        for start in range(0, len(v), size):
            part = v[start:start + size]
            pending.append(part)
            count += len(part)
            if count >= size:
                yield np.concatenate(pending)
                pending, count = [], 0
    if pending:
        yield np.concatenate(pending)


def _twin_and_rows(bundle, frame: Frame):
    """A twin of the model with one stateful batch row per series, and each series' scaled
    rows (cut a block at a time): what reading whole histories needs."""
    from lstmcli.training.stateful import ScaledSeries, inference_twin

    twin = inference_twin(bundle.config, n_rows=len(frame.series),
                          n_features=len(frame.features), n_targets=len(frame.targets),
                          weights=bundle.model.get_weights())
    return twin, ScaledSeries(frame.series, bundle.scaler)


def _future_features(frame: Frame, used: list, scaler: Scaler, steps: int,
                     known: dict[str, pd.DataFrame] | None = None) -> np.ndarray | None:
    """(series, steps, features): the scaled known future values of each forecast step -
    calendar features, and the covariates in `known` (per series, indexed by time stamp,
    covering at least the horizon) - with zeros in the fed-back columns; None if none."""
    covariates = [c for c in frame.features if c not in frame.targets + frame.derived]
    if not frame.derived and not (known and covariates):
        return None
    from lstmcli.data import calendar

    names = [c.rsplit("_", 1)[0] for c in frame.derived[::2]]
    k = [frame.columns.index(c) for c in frame.derived]
    out = []
    for s in used:
        rows = np.zeros((steps, len(frame.columns)))
        stamps = future_stamps(frame, s, steps)
        if names:
            rows[:, k] = calendar.features(stamps, names)
        if known and covariates:
            for c in covariates:  # known-ahead columns hold the next step's value
                lead = 1 if c in frame.ahead else 0
                given = np.zeros(steps)  # past the horizon: the last call's spare steps
                found = known[s.id][c].reindex(stamps[lead:]).to_numpy(dtype="float64")
                given[:len(found)] = np.nan_to_num(found)
                rows[:, frame.columns.index(c)] = given
        out.append(scaler.of(s.id).transform(rows)[:, frame.feature_idx])
    return np.stack(out).astype("float32")


def _interval_bands(bundle, frame: Frame, s, horizon: int, notes: list[str]) -> dict:
    """level -> (lo, hi) offsets for a forecast of series s, when the run was calibrated."""
    from lstmcli.forecast.intervals import bands, unit_of

    found = bundle.meta.intervals
    if found is None or runs_whole_history(bundle):
        return {}
    note = (f"prediction intervals are calibrated for the first {found.horizon} step(s) "
            "(training.interval_steps, at most the validation tail); later steps extend the "
            "last width by sqrt(h / N), or as fast as the calibrated widths grew")
    if horizon > found.horizon and note not in notes:
        notes.append(note)
    unit = unit_of(found, s.values[:, frame.target_idx],
                   bundle.scaler.of(s.id).scale[frame.target_idx])
    return bands(found, horizon, len(frame.targets), unit)


def _with_baseline(frame: Frame, bundle, used: list, pred: list, short: list, horizon: int,
                   notes: list[str]) -> tuple[list, list]:
    """Series too short for a window (look_back rows, or window.min_input): a Seasonal-Naive
    forecast (Naive when shorter than a season), in original units, with a note naming
    them. Returns (series, forecasts) in the file's order."""
    from lstmcli.evaluation import metrics

    m = bundle.config.data.season_length or metrics.season_length(frame.freq)
    got = dict(zip([s.id for s in used], pred, strict=True))
    for s in short:
        history = s.values[:, frame.target_idx]
        got[s.id] = (metrics.seasonal_naive(history, horizon, m) if len(history) >= m > 1
                     else metrics.naive(history, horizon))
    names = listed([repr(s.id) for s in short])
    notes.append(f"{len(short)} series shorter than {bundle.config.input_rows} "
                 f"forecast by {'Seasonal-Naive' if m > 1 else 'Naive'} (Naive if shorter "
                 f"than a season): {names}")
    return list(frame.series), [got[s.id] for s in frame.series]


def _rows(frame: Frame, s, stamps, preds: np.ndarray, *, actual: np.ndarray | None = None,
          origin=None, bands: dict | None = None) -> list[dict]:
    """Output rows for one series (lstmcli/forecast/columns.py): [id,] time, [origin, step,]
    <target>_forecast..., [<target>_lo_<L>, <target>_hi_<L>...], [<target>_actual...].

    origin: the time stamp of the last known row, when the rows are the steps of one
    multi-step forecast (adds the origin and step columns); bands: level -> (lo, hi)
    bounds, each (rows, targets)."""
    from lstmcli.forecast import columns

    names = [columns.forecast(t) for t in frame.targets]
    bounds = [(level, k, columns.bound(t, "lo", level), columns.bound(t, "hi", level))
              for level in (bands or {}) for k, t in enumerate(frame.targets)]
    out = []
    for h, p in enumerate(preds):
        row = {frame.series_col: s.id} if frame.is_long else {}
        row[time_name(frame)] = stamps[h]
        if origin is not None:
            row[columns.ORIGIN] = origin
            row[columns.STEP] = h + 1
        row.update(zip(names, p.tolist(), strict=True))
        for level, k, lo, hi in bounds:
            row[lo], row[hi] = float(bands[level][0][h, k]), float(bands[level][1][h, k])
        if actual is not None:
            row.update({columns.actual(t): float(v)
                        for t, v in zip(frame.targets, actual[h], strict=True)})
        out.append(row)
    return out


def _bounded(p: np.ndarray, floor: np.ndarray, offsets: dict) -> tuple[np.ndarray, dict]:
    """The forecast p (steps 1.., targets) in original units clipped at the series' floor
    (`_floor`), and its interval bounds {level: (lo, hi)} from the offsets of
    `_interval_bands`, clipped there too."""
    p = np.maximum(p, floor)
    n = len(p)
    return p, {level: (np.maximum(p + lo[:n], floor), np.maximum(p + hi[:n], floor))
               for level, (lo, hi) in offsets.items()}


def predict(data_path: str | Path, run_dir: str | Path, *, last: bool = False
            ) -> tuple[pd.DataFrame, dict]:
    """Predict the targets from every look_back window of a CSV (with the actual values), or,
    with `last`, the `horizon` steps after the end of each series.

    Stateful models instead run each series' whole history with its state carried, and
    predict every step after the first (with `last`: the step after the end).
    """
    from lstmcli.forecast.loops import PREDICT_BATCH, predict_batches

    t0 = time.perf_counter()
    bundle, frame, checked_notes = load_run(run_dir, data_path, tail=last)
    w = bundle.config.window
    records: list[dict] = []
    if runs_whole_history(bundle):
        from lstmcli.training.stateful import run_history

        used, notes = list(frame.series), []
        out = run_history(*_twin_and_rows(bundle, frame), columns=frame.feature_idx)
        longest = out.shape[1]
        for i, s in enumerate(used):
            steps = bundle.scaler.of(s.id).inverse(out[i, longest - len(s):],
                                                   frame.target_idx)
            steps = np.maximum(steps, floor_of(frame, s))
            if last:
                records += _rows(frame, s, future_stamps(frame, s, 1), steps[-1:])
            else:  # output t predicts row t + 1
                records += _rows(frame, s, s.ds[1:], steps[:-1],
                                 actual=s.values[1:, frame.target_idx])
        n_windows = len(used) if last else sum(len(s) - 1 for s in used)
        x_shape = [len(used), longest, len(frame.features)]
    else:
        used, notes = _scaled_inputs(frame, bundle.scaler, bundle.config)
        pad = bundle.config.pad  # padded rows in front of each series' rows
        if last:
            views = [_last_windows(used, w.look_back)]
            starts = [len(rows) - w.look_back for _, rows in used]
            where = [(s, k) for (s, _), k in zip(used, starts, strict=True)]
        else:  # the windows whose predicted rows are all in the file, as strided views
            views, where = [], []
            for s, rows in used:
                n = len(rows) - w.look_back - w.horizon + 1
                if n > 0:
                    views.append(input_windows(rows, look_back=w.look_back)[:n])
                    where += [(s, k) for k in range(n)]
            if not where:
                least = bundle.config.min_input
                raise DataError(f"{frame.path}: no window has known targets: every series needs "
                                f"more than {bundle.config.input_rows} + horizon - 1 = "
                                f"{least + w.horizon - 1} rows; use --last to forecast "
                                "past the end")
        pred = predict_batches(bundle.model, _batched(views, PREDICT_BATCH))
        if per_step_model(bundle):
            pred = pred[:, -1:, :]  # the prediction after the window's last step
        several = w.horizon > 1
        limits: dict[str, tuple] = {}  # per series: its floor and interval offsets
        for (s, k), p in zip(where, pred, strict=True):  # p: (horizon, targets)
            if s.id not in limits:
                limits[s.id] = (floor_of(frame, s),
                                _interval_bands(bundle, frame, s, len(p), notes))
            p, bands = _bounded(bundle.scaler.of(s.id).inverse(p, frame.target_idx),
                                *limits[s.id])
            first = k + w.look_back - pad  # the first predicted row (k: in the padded rows)
            if last:
                records += _rows(frame, s, future_stamps(frame, s, w.horizon), p, bands=bands,
                                 origin=s.ds[-1] if several else None)
            else:
                records += _rows(frame, s, s.ds[first:first + w.horizon], p, bands=bands,
                                 actual=s.values[first:first + w.horizon, frame.target_idx],
                                 origin=s.ds[first - 1] if several else None)
        n_windows, x_shape = len(where), [len(where), w.look_back, len(frame.features)]
    table = pd.DataFrame.from_records(records)
    return table, {"command": "predict", "run_dir": str(run_dir), "data": str(data_path),
                   "mode": bundle.config.training.mode, "last": last, "windows": int(n_windows),
                   "rows": int(len(table)), "x_shape": x_shape,
                   "notes": frame.notes + checked_notes + notes,
                   "seconds": round(time.perf_counter() - t0, 3)}


def rollout(data_path: str | Path | Frame, run_dir: str | Path, *, horizon: int,
            future: str | Path | None = None, shown: str | Path | None = None,
            on_frame=None) -> tuple[pd.DataFrame, dict]:
    """Forecast `horizon` steps past the end of each series, feeding predictions back in.

    Stateless models slide their look_back window over the predictions. Stateful models
    warm their state up on each series' whole history, then continue one step at a time
    without a reset. data_path: a CSV, or a Frame read with the run's data section
    (evaluate: the rows before the evaluated tail); shown: the file to name in messages.
    on_frame(frame): given the data as read (for `rollout --plot`).
    """
    t0 = time.perf_counter()
    if horizon < 1:
        raise DataError(f"--horizon must be >= 1. Received: {horizon}")
    bundle, frame, checked_notes = load_run(run_dir, data_path, tail=True, shown=shown)
    unknown = [f for f in frame.features if f not in frame.targets and f not in frame.derived]
    one_call = (not runs_whole_history(bundle) and not per_step_model(bundle)
                and horizon <= bundle.config.window.horizon)  # nothing is fed back
    unfed = [t for t in frame.targets if t not in frame.features]
    if not one_call and (unfed or (unknown and future is None)):
        raise ModelError(f"{run_dir}: rollout feeds each prediction back as the next input, so "
                         f"every input must be predicted, a calendar feature, or a covariate "
                         f"given for the horizon with --future FILE.csv; this model has "
                         f"features {frame.features} and targets {frame.targets}. Retrain with "
                         "data.targets equal to data.features (calendar features may be added "
                         "with data.calendar), pass --future, or use `predict --last`")
    known = read_future(future, frame, horizon) if future is not None and unknown else None
    if frame.ahead and known is None:
        raise DataError(f"{run_dir}: data.future {frame.ahead} are known-ahead inputs: give "
                        "their values for the forecast steps with --future FILE.csv")
    for s in frame.series:  # the last row's known-ahead inputs: the first forecast step's
        for c in frame.ahead:
            s.values[-1, frame.columns.index(c)] = known[s.id][c].loc[future_stamps(frame, s, 1)[0]]
    from lstmcli.forecast.loops import window_rollout

    w = bundle.config.window
    order = feedback_order(frame)
    if runs_whole_history(bundle):
        from lstmcli.training.stateful import warm_up_rollout

        used, notes, baseline = list(frame.series), [], set()
        exo = _future_features(frame, used, bundle.scaler, horizon, known)
        twin, rows = _twin_and_rows(bundle, frame)
        pred = warm_up_rollout(twin, rows, columns=frame.feature_idx, horizon=horizon,
                               feedback=order, exo=exo)
    else:
        short = [s for s in frame.series if len(s) < bundle.config.min_input]
        used, pred, notes, baseline = [], [], [], {s.id for s in short}
        if len(short) < len(frame.series):
            scaled, _ = _scaled_inputs(frame, bundle.scaler, bundle.config, tail=True)
            used = [s for s, _ in scaled]
            steps = horizon + w.horizon  # whole model calls
            pred = list(window_rollout(
                bundle.model, _last_windows(scaled, w.look_back), horizon=horizon,
                feedback=order, per_step=per_step_model(bundle),
                exo=_future_features(frame, used, bundle.scaler, steps, known)))
        if short:  # every series gets a forecast: the baseline for those too short
            used, pred = _with_baseline(frame, bundle, used, pred, short, horizon, notes)
    pred = [p if s.id in baseline else bundle.scaler.of(s.id).inverse(p, frame.target_idx)
            for s, p in zip(used, pred, strict=True)]
    records: list[dict] = []
    for s, p in zip(used, pred, strict=True):
        p, bands = _bounded(p, floor_of(frame, s),
                            _interval_bands(bundle, frame, s, horizon, notes))
        records += _rows(frame, s, future_stamps(frame, s, horizon), p, bands=bands)
    table = pd.DataFrame.from_records(records)
    if on_frame is not None:
        on_frame(frame)
    return table, {"command": "rollout", "run_dir": str(run_dir),
                   "data": str(shown or data_path),
                   "mode": bundle.config.training.mode, "horizon": horizon,
                   "series": len(used), "rows": int(len(table)), "freq": frame.freq,
                   "notes": frame.notes + checked_notes + notes,
                   "seconds": round(time.perf_counter() - t0, 3)}
