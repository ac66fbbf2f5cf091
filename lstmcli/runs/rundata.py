"""The data a trained run is given (predict, rollout, evaluate): read with the run's data
section (into a temporary store on disk with data.stream), compared with what the run was
trained on (datacheck.py), and the facts about the run forecasting needs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import Config, DataSpec
from lstmcli.data.read import INDEX_TIME_NAME, Frame, future_index, read_series
from lstmcli.errors import DataError


def read_data(data_path: str | Path, spec: DataSpec, *, fallback_freq=None) -> Frame:
    """read_series for predict, rollout and evaluate: with data.stream, the store is kept
    in a temporary directory, removed when the frame's store is let go (or at exit)."""
    from lstmcli.data.store import removed_with, temporary_directory

    if not spec.stream:
        return read_series(data_path, spec, fallback_freq=fallback_freq)
    directory = temporary_directory()
    try:
        frame = read_series(data_path, spec, fallback_freq=fallback_freq, store_dir=directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    removed_with(frame.store, directory)
    return frame


def load_run(run_dir: str | Path, data_path: str | Path, *, tail: bool = False,
          shown: str | Path | None = None):
    """The run, the data, and the notes comparing the data with the run gave.

    data_path: a CSV, or a Frame read with the run's data section. tail: only the last
    look_back rows of each series are the forecast's inputs (their value ranges are
    checked; else all rows). shown: the file to name in messages."""
    from lstmcli.runs.bundle import load_bundle
    from lstmcli.runs.datacheck import check_columns, inferred_freq

    bundle = load_bundle(run_dir)
    spec: DataSpec = bundle.config.data
    if isinstance(data_path, Frame):  # already read with the run's data section
        frame, name = data_path, shown or data_path.path
    else:
        name = shown or data_path
        check_columns(data_path, bundle.config, run_dir, shown=name)
        frame = read_data(data_path, spec, fallback_freq=bundle.meta.freq)
    found = frame.freq if spec.freq is None else inferred_freq([s.ds for s in frame.series])
    if frame.columns != bundle.scaler.columns:
        raise DataError(f"{name}: columns {frame.columns} do not match the model's "
                        f"{bundle.scaler.columns}")
    lb = bundle.config.window.look_back
    if tail and lb and not runs_whole_history(bundle):
        rows = [(s.id, s.values[-lb:]) for s in frame.series]
        what = f"the last {lb} rows (the forecast's inputs)"
    else:  # (a store on disk: each series' range, one series mapped at a time)
        rows = [(s.id, min_max(s.values) if frame.store.on_disk else s.values)
                for s in frame.series]
        what = "the rows read"
    return bundle, frame, _check_data(bundle, frame, name, run_dir, found, rows, what)


def _check_data(bundle, frame, name, run_dir, found_freq, seen: list, what: str
                ) -> list[str]:
    """Compare the data with the run (datacheck.py): its frequency (an error), series a
    per-series scaled run never saw (a note; they get scalers of their own rows), values
    far outside the training range in the rows `seen` ((series id, rows or (min, max))
    pairs; a note), and why there are no prediction intervals when there are none."""
    from lstmcli.runs import datacheck

    datacheck.check_freq(found_freq, bundle.meta.freq, path=name, run_dir=run_dir)
    notes = []
    unseen = datacheck.unseen_series([s.id for s in frame.series], bundle.scaler)
    if unseen:
        new = set(unseen)
        bundle.scaler = datacheck.with_own_scalers(
            bundle.scaler, {s.id: s.values for s in frame.series if s.id in new})
        notes.append(datacheck.unseen_note(unseen, name))
    ranges = bundle.meta.ranges
    notes += datacheck.range_notes(ranges and ranges.model_dump(), frame.columns, seen,
                                   series_label="series" if frame.is_long else None, what=what)
    reason = no_intervals(bundle.config, calibrated=bundle.meta.intervals is not None,
                          recorded=bundle.meta.training.get("no_intervals"))
    if reason:
        notes.append(f"no prediction intervals: {reason}")
    return notes


def no_intervals(config: Config, *, calibrated: bool = False, recorded: str | None = None
                 ) -> str | None:
    """Why a run has no prediction intervals, in words (None: it has them, or
    training.interval_steps is 0: none were asked for); recorded: the reason training
    gave (bundle.json's training.no_intervals)."""
    if calibrated:
        return None
    t = config.training
    if not t.interval_steps:
        return None
    if config.stateful:
        return ("stateful runs are not calibrated: intervals come from forecasts started at "
                "every origin of the validation tails, and a stateful model would have to "
                "warm its state up again for each origin (not done yet)")
    if config.variable_length:
        return ("variable-length runs (window.look_back: null) are not calibrated: each series "
                "is one sequence, so the validation tails give no forecast origins")
    if t.validation == 0:
        return "training.validation is 0: there was no validation tail to calibrate them on"
    return recorded or ("the validation tails gave nothing to calibrate on (targets that "
                        "are not inputs, or tails no longer than window.look_back)")


def feedback_order(frame: Frame) -> list[int]:
    """For each feature, the target whose prediction feeds it back, or -1 for a calendar
    feature (computed for the future time stamp instead)."""
    return [frame.targets.index(f) if f in frame.targets else -1 for f in frame.features]


def read_future(path: str | Path, frame: Frame, horizon: int) -> dict[str, pd.DataFrame]:
    """`rollout --future FILE.csv`: the covariates over the forecast horizon, per series,
    indexed by time stamp. Every covariate input must be there for every forecast step."""
    covariates = [c for c in frame.features if c not in frame.targets + frame.derived]
    spec = DataSpec(time=frame.time_col, series=frame.series_col, features=covariates,
                    missing="error")
    future = read_series(path, spec, fallback_freq=frame.freq)
    got = {s.id: pd.DataFrame(s.values[:, :len(covariates)], index=s.ds, columns=covariates)
           for s in future.series}
    for s in frame.series:
        need = future_stamps(frame, s, horizon)
        have = got.get(s.id)
        missing = need if have is None else need.difference(have.index)
        if len(missing):
            label = f"series '{s.id}'" if frame.is_long else "the series"
            raise DataError(f"{path}: {label} has no {covariates} for {stamp_text(missing[0])} "
                            f"({len(missing)} of the {horizon} forecast step(s) missing); "
                            "the future file must cover the whole horizon")
    return got


def future_stamps(frame: Frame, s, steps: int) -> pd.Index:
    if frame.freq is None:
        raise DataError(f"{frame.path}: cannot stamp future rows: the time frequency could not "
                        "be inferred; set data.freq (e.g. D, h, MS) in the config")
    return future_index(s.ds[-1], frame.freq, steps)


def time_name(frame: Frame) -> str:
    return frame.time_col or INDEX_TIME_NAME


def _floor(history: np.ndarray) -> np.ndarray:
    """Per target: 0 for a series that was never negative (its forecasts and bounds are
    clipped there), else -inf (no clipping)."""
    with np.errstate(invalid="ignore"):
        never_negative = np.nanmin(history, axis=0) >= 0
    return np.where(never_negative, 0.0, -np.inf)


def floor_of(frame: Frame, s) -> np.ndarray:
    """`_floor` of a series, from all its rows."""
    return _floor(s.values[:, frame.target_idx])


def runs_whole_history(bundle) -> bool:
    """Stateful and variable-length models read each series' whole history (through a
    stateful twin: identical to running the full sequence from a zero state)."""
    return bundle.config.stateful or bundle.config.variable_length


def per_step_model(bundle) -> bool:
    return bundle.config.per_step


def stamp_text(stamp) -> str:
    """A time stamp as text: the date alone when it is at midnight."""
    if isinstance(stamp, pd.Timestamp) and stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return str(stamp)


def min_max(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rows.min(axis=0), rows.max(axis=0)
