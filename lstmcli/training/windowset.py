"""`lstmcli window`: a CSV's [samples, time_steps, features] windows, to preview or save
as .npz (the classic `create_dataset`, every window kept)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lstmcli.config import Config
from lstmcli.data.read import Frame, read_series
from lstmcli.errors import ConfigError, DataError, listed
from lstmcli.options import options_spec, overridden, with_options
from lstmcli.runs.files import write_atomic
from lstmcli.runs.rundata import stamp_text
from lstmcli.training.windows import edge_padded, make_windows, recent, window_starts


@dataclass
class WindowPart:
    series: object  # data.Series
    X: np.ndarray  # (samples, look_back, features) strided view, raw units
    y: np.ndarray  # (samples, horizon, targets) strided view
    starts: np.ndarray  # first input row of each sample


@dataclass
class WindowSet:
    """The windows of every series, kept as per-series views (nothing copied)."""

    frame: Frame
    parts: list[WindowPart]
    look_back: int
    seconds: dict
    config: Config | None = None  # the config the windows were cut by

    @property
    def n(self) -> int:
        return sum(len(p.X) for p in self.parts)

    @property
    def x_shape(self) -> list[int]:
        return [self.n, *self.parts[0].X.shape[1:]]

    @property
    def y_shape(self) -> list[int]:
        return [self.n, *self.parts[0].y.shape[1:]]

    def first(self, k: int) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
        """Copies of the first k windows: X, y, series ids, time of each first target."""
        xs, ys, ids, ds = [], [], [], []
        for p in self.parts:
            take = min(k - len(ids), len(p.X))
            xs.append(p.X[:take]), ys.append(p.y[:take])
            ids += [p.series.id] * take
            ds += [stamp_text(v) for v in p.series.ds[p.starts[:take] + self.look_back]]
            if len(ids) == k:
                break
        return np.concatenate(xs), np.concatenate(ys), ids, ds




def make_window_set(data_path: str | Path, config: Config | None, *,
                    horizon: int | None = None, options: dict | None = None) -> WindowSet:
    """The windows of every series, as `create_dataset` would cut them (raw units).

    config None: the config `train` would pick from the data (defaults.picked); horizon and
    options (see `train`) override the config's window.horizon and data keys."""
    t0 = time.perf_counter()
    notes = []
    if config is None:
        from lstmcli.evaluation.defaults import picked

        config, frame, _ = picked(data_path, horizon=horizon, spec=options_spec(options))
        notes.append(f"no --config: the windows of the config `lstmcli train` picks from this "
                     f"data (look_back {config.window.look_back}, horizon "
                     f"{config.window.horizon}); set --horizon, or give --config")
    else:
        config = with_options(config, options)
        if horizon is not None and horizon != config.window.horizon:
            config = overridden(config, "window", "horizon", horizon, "--horizon")
        frame = None
    if config.variable_length:
        raise ConfigError("window.look_back is null (variable-length sequences): each series "
                          "is one whole sequence, so there are no fixed windows to cut; "
                          "`lstmcli inspect` shows the model's input shape")
    if frame is None:
        frame = read_series(data_path, config.data)
    if notes:
        frame = replace(frame, notes=frame.notes + notes)
    t1 = time.perf_counter()
    w, pad = config.window, config.pad  # pad: rows a window may reach before its series
    parts, short = [], []
    for s in frame.series:
        rows = edge_padded(s.values, len(s) + pad)  # (window.min_input) as training cuts them
        X, y = make_windows(rows, look_back=w.look_back, horizon=w.horizon, stride=w.stride,
                            feature_idx=frame.feature_idx, target_idx=frame.target_idx)
        starts = window_starts(len(rows), look_back=w.look_back, horizon=w.horizon,
                               stride=w.stride)
        if w.history is not None:  # the most recent windows, as training keeps them
            first = len(starts) - int(recent(starts, end=len(rows), span=w.look_back
                                             + w.horizon, history=w.history).sum())
            X, y, starts = X[first:], y[first:], starts[first:]  # still views
        if len(X):
            parts.append(WindowPart(series=s, X=X, y=y, starts=starts - pad))  # <0: before it
        else:
            short.append(s)
    if parts and short:
        named = listed([f"'{s.id}' ({len(s)} rows)" for s in short], 10)
        frame = replace(frame, notes=frame.notes + [
            f"{len(short)} series skipped, shorter than {config.input_rows} + horizon "
            f"{w.horizon} = {config.min_input + w.horizon} rows: {named}"])
    if not parts:
        shortest = min(len(s) for s in frame.series)
        raise DataError(f"{frame.path}: no window fits: the longest series has "
                        f"{max(len(s) for s in frame.series)} rows (shortest {shortest}),"
                        f" {config.input_rows} + horizon {w.horizon} needs at least "
                        f"{config.min_input + w.horizon}")
    seconds = {"read": round(t1 - t0, 4), "window": round(time.perf_counter() - t1, 4)}
    return WindowSet(frame=frame, parts=parts, look_back=w.look_back, seconds=seconds,
                     config=config)


def save_window_set(ws: WindowSet, out: str | Path, config: Config) -> Path:
    """Write X, y and metadata to .npz. This materialises every window (float32)."""
    out = Path(out)
    series = np.concatenate([np.full(len(p.X), p.series.id) for p in ws.parts])
    ds = np.concatenate([np.asarray(p.series.ds[p.starts + ws.look_back].astype(str))
                         for p in ws.parts])
    arrays = dict(X=np.concatenate([p.X for p in ws.parts]).astype("float32"),
                  y=np.concatenate([p.y for p in ws.parts]).astype("float32"),
                  series=series.astype(str), ds=ds.astype(str),
                  features=np.array(ws.frame.features), targets=np.array(ws.frame.targets),
                  look_back=config.window.look_back, horizon=config.window.horizon,
                  stride=config.window.stride)
    with write_atomic(out, binary=True) as fh:
        np.savez(fh, **arrays)
    return out
