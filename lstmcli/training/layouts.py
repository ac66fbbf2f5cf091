"""Training data layouts: which rows of which series train and validate, the scaler fitted
on the training rows, and the batches each training mode consumes (`TrainData`).

    stateless       split_windows: window start rows, batches gathered by tf.data
    stateful        stateful_layout: series as batch rows, consecutive chunks, resets
    variable length sequence_layout: each series one sequence

The validation tail is the end of each series; nothing of it reaches the scaler.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from lstmcli.config import Config, LayerSpec
from lstmcli.data import timegrid
from lstmcli.data.read import Frame
from lstmcli.data.scaling import Scaler
from lstmcli.errors import DataError, listed
from lstmcli.evaluation.metrics import season_length, spread
from lstmcli.training.fit import TrainData
from lstmcli.training.windows import (
    Rows,
    chunk_layout,
    edge_padded,
    read_rows,
    recent,
    segment_bounds,
    window_starts,
)


def resolved(config: Config, frame: Frame) -> Config:
    """The config with what the run actually used filled in: the columns and each gated
    cell's gate activation (`recurrent_activation: sigmoid`, not null). data.freq stays as
    given: predict and rollout infer the frequency of the data they read and compare it
    with the run's (bundle.json's `freq`); `reusable` fills it in for config.yaml."""
    data = config.data.model_copy(update={
        "time": frame.time_col, "series": frame.series_col,
        "features": [f for f in frame.features  # those read from the file
                     if f not in getattr(frame, "derived", [])],
        "targets": frame.targets})
    m = config.model
    model = m.model_copy(update={
        "layers": with_gates(m.layers),
        "decoder": None if m.decoder is None else with_gates(m.decoder)})
    return config.model_copy(update={"data": data, "model": model})


def reusable(config: Config, frame) -> Config:
    """The resolved config as the run's config.yaml shows it, to edit and reuse: data.freq
    is the frequency the run used (`freq: MS`, not null) where `freq_used` finds one."""
    return config.model_copy(update={"data": config.data.model_copy(
        update={"freq": freq_used(config, frame)})})


# Keras's recurrent_activation for the cells that have gates (simple_rnn has none)
GATES = {"lstm": "sigmoid", "gru": "sigmoid"}


def with_gates(layers: list[LayerSpec]) -> list[LayerSpec]:
    """The layers with recurrent_activation set where it was left to Keras's default."""
    return [layer.model_copy(update={"recurrent_activation": GATES[layer.type]})
            if layer.recurrent_activation is None and layer.type in GATES else layer
            for layer in layers]


def freq_used(config: Config, frame) -> str | None:
    """data.freq as given; else the frame's frequency as data.freq writes it ('MS'; '7' for
    step numbers 7 apart) when reading the file again with it gives the same series: every
    series' stamps lie on its grid (data.freq makes a stamp off the grid an error, where
    inference only leaves that series irregular). None without a time column (the rows
    are the steps) or for a streamed frame, which holds no stamps to check."""
    if config.data.freq is not None or frame.freq is None or frame.time_col is None:
        return config.data.freq
    for s in frame.series:
        ds = getattr(s, "ds", None)
        if ds is None:
            return None
        if len(ds) > 1:
            kind = "M" if isinstance(ds, pd.DatetimeIndex) else "i"
            at = ds.as_unit("ns").asi8 if kind == "M" else ds.to_numpy(dtype="int64")
            if (timegrid.places(int(at[0]), at[1:], frame.freq, kind) < 0).any():
                return None
    return str(frame.freq)


def training_rows(n_rows: int, config: Config) -> int:
    """Rows at the start of a series used for training; the rest is the validation tail."""
    frac, horizon = config.training.validation, config.window.horizon
    steps = config.training.validation_steps
    n_val = 0 if frac == 0 else max(steps or math.ceil(frac * n_rows), horizon)
    return n_rows - n_val


def _tail(config: Config) -> str:
    steps = config.training.validation_steps
    return f"{steps} steps" if steps else f"{config.training.validation:.0%}"


def usable_series(frame: Frame, config: Config, min_rows: int) -> tuple[list, list[str]]:
    """(series, training rows) for each series long enough to train on; notes for the rest."""
    w, used, skipped = config.window, [], []
    for s in frame.series:
        n_train = training_rows(len(s), config)
        if n_train < min_rows:
            skipped.append((s, n_train))
            continue
        used.append((s, n_train))
    notes = _skipped_notes(skipped, min_rows)
    if not used:
        longest = max(len(s) for s in frame.series)
        raise DataError(f"{frame.path}: no series is long enough to train on: the longest has "
                        f"{longest} rows; {min_rows} training rows ({config.input_rows}, "
                        f"horizon {w.horizon}) plus a validation tail of "
                        f"{_tail(config)} do not fit. Lower window.look_back "
                        "or training.validation")
    return used, notes


def _skipped_notes(skipped: list, min_rows: int) -> list[str]:
    """A note per series skipped, or with more than 3 one note naming the first 10 (a
    collection can skip hundreds)."""
    if len(skipped) <= 3:
        return [f"series '{s.id}' skipped: {len(s)} rows, of which {n} for training; at "
                f"least {min_rows} needed" for s, n in skipped]
    named = listed([f"'{s.id}' ({len(s)} rows, {n} for training)" for s, n in skipped], 10)
    return [f"{len(skipped)} series skipped, fewer than {min_rows} training rows after the "
            f"validation tail: {named}"]


def fit_scaler(frame: Frame, config: Config, used: list) -> Scaler:
    """Fitted on the training rows only: the validation tail never leaks into the scaling.
    Series are read one at a time (a store on disk is never held whole)."""
    kind, columns = config.data.scaling, frame.columns
    if not config.data.scale_per_series:
        return Scaler.fit_parts(kind, columns, lambda: (s.values[:n] for s, n in used))
    n_train = {s.id: n for s, n in used}
    # too short to train on, but forecast: scaled on its own rows (and in the pooled one)
    parts = [(s, n_train.get(s.id, len(s))) for s in frame.series]
    pooled = Scaler.fit_parts(kind, columns, lambda: (s.values[:n] for s, n in parts))
    own = {s.id: Scaler.fit(kind, columns, s.values[:n]) for s, n in parts}
    return replace(pooled, series={sid: (o.shift, o.scale) for sid, o in own.items()})


def split_windows(frame: Frame, config: Config, *, batch_size: int | None = None,
                  scaler: Scaler | None = None) -> tuple[Scaler, TrainData, list[str]]:
    """Stateless: fit the scaler on the training rows, then choose the training and
    validation windows by their start rows; batches are cut from the series on the fly.

    Training windows lie entirely in the training rows; validation windows predict rows of
    the tail (their inputs may reach back into the training rows, as at forecast time).
    many_to_many models are trained on the next step at every step of the window.
    """
    from lstmcli.training.pipeline import stack_series, window_dataset

    w, t = config.window, config.training
    per_step = config.per_step
    pad = config.pad  # rows before each series a window may reach (window.min_input)
    used, notes = usable_series(frame, config, config.min_input + w.horizon)
    scaler = scaler or fit_scaler(frame, config, used)  # (given: refit keeps the first one)
    flat, offsets = stack_series([len(s) + pad for s, _ in used], len(frame.columns),
                                 (edge_padded(scaler.of(s.id).transform(s.values), len(s) + pad)
                                  for s, _ in used), frame.store.directory)
    train_starts, val_starts = [], []
    for (s, n_train), offset in zip(used, offsets, strict=True):
        starts = window_starts(len(s) + pad, look_back=w.look_back, horizon=w.horizon,
                               stride=w.stride)
        span = w.look_back + w.horizon
        fits = (starts + span <= n_train + pad) & recent(starts, end=n_train + pad, span=span,
                                                          history=w.history)
        train_starts.append(offset + starts[fits])
        val_starts.append(offset + starts[starts + w.look_back >= n_train + pad])
    train_starts, val_starts = np.concatenate(train_starts), np.concatenate(val_starts)
    train_w = val_w = None
    if t.loss == "mase":  # each window weighted by 1 / its series' scale
        series_w = series_weights(flat, offsets + pad, [n for _, n in used], frame.target_idx,
                                  config.data.season_length or season_length(frame.freq))
        train_w, val_w = (series_w[np.searchsorted(offsets, st, side="right") - 1]
                          for st in (train_starts, val_starts))
    teacher = config.teacher_forced
    batch_size = batch_size or t.batch_size  # the global batch under a strategy
    common = dict(look_back=w.look_back, horizon=w.horizon, feature_idx=frame.feature_idx,
                  target_idx=frame.target_idx, per_step=per_step, batch_size=batch_size,
                  teacher=teacher)
    train = window_dataset(flat, train_starts, shuffle=t.shuffle, seed=t.seed,
                           weights=train_w, **common)
    val = None
    if t.validation > 0 and len(val_starts):
        val = window_dataset(flat, val_starts, shuffle=False, seed=t.seed, weights=val_w,
                             **common)
    out_steps = w.look_back if per_step else w.horizon
    data = TrainData(x=train, y=None, val=val, batch_size=batch_size, shuffle=t.shuffle,
                     n_train=len(train_starts), n_val=len(val_starts) if val else 0,
                     x_shape=[len(train_starts), w.look_back, len(frame.features)],
                     y_shape=[len(train_starts), out_steps, len(frame.targets)])
    return scaler, data, notes


def series_weights(flat: np.ndarray, offsets: np.ndarray, n_train: list[int],
                   target_idx: list[int], season: int) -> np.ndarray:
    """1 / each series' MASE scale: `metrics.spread` of its (scaled) training rows (floored
    at 1% of their mean absolute value, so a flat series cannot dominate), averaged over the
    targets."""
    out = np.empty(len(offsets), dtype="float64")
    for i, (off, n) in enumerate(zip(offsets, n_train, strict=True)):
        v = read_rows(flat, int(off), int(off) + n)[:, target_idx]
        out[i] = 1.0 / float(np.mean(spread(v, season)))  # over the targets
    return out


def stateful_layout(frame: Frame, config: Config) -> tuple[Scaler, TrainData, list[str]]:
    """Stateful: series (or segments of one long series) are the rows of a fixed-size batch,
    cut into consecutive chunks; never shuffled; state reset at each row group's start."""
    from lstmcli.training.pipeline import chunk_dataset
    from lstmcli.training.stateful import training_callbacks

    B, C = config.training.batch_size, config.chunk_length
    used, notes = usable_series(frame, config, C + 1)
    scaler = fit_scaler(frame, config, used)
    scaled = _scaled_rows(frame, scaler, used)
    train_spans = [(a, a + n) for (a, _), (_, n) in zip(scaled.spans, used, strict=True)]
    if len(train_spans) == 1 and B > 1:
        (start, stop), = train_spans
        bounds, trimmed = segment_bounds(stop - start, B)
        per = bounds[0][1] - bounds[0][0]
        if per < C + 1:
            raise DataError(f"{frame.path}: {stop - start} training rows split into "
                            f"training.batch_size {B} segments leaves {per} rows "
                            f"per segment, less than chunk_length {C} + 1; lower "
                            "training.batch_size or training.chunk_length")
        train_spans = [(start + a, start + b) for a, b in bounds]
        notes.append(f"one series split into {B} contiguous segments of {per} "
                     f"rows, one per batch row" + (f"; the oldest {trimmed} row(s) trimmed"
                                                   if trimmed else ""))
    layout = chunk_layout(Rows(scaled.flat, train_spans), batch_size=B, chunk_length=C,
                          feature_idx=frame.feature_idx, target_idx=frame.target_idx)
    padding_rows = layout.groups * B - layout.rows
    if padding_rows:
        notes.append(f"{layout.rows} rows in batches of {B}: {padding_rows} padding row(s) in "
                     "the last batch, masked and excluded from the loss" +
                     (f"; training.batch_size: {layout.rows} would avoid them"
                      if layout.rows < B else ""))
    if layout.rows == 1 and layout.chunks >= 64:
        notes.append(f"one batch row: each epoch runs {layout.chunks} chunks one after another; "
                     "training.batch_size: 16 would split the series into 16 segments and "
                     "take about 16x fewer steps per epoch")
    last_only = config.model.topology == "many_to_one"  # the target after each chunk only
    val_rows = scaled if config.training.validation > 0 else None
    callbacks = training_callbacks(chunks=layout.chunks, config=config, val_rows=val_rows,
                                   train_steps=[n for _, n in used],
                                   feature_idx=frame.feature_idx, target_idx=frame.target_idx)
    n = layout.batches * B
    data = TrainData(x=chunk_dataset(layout, last_only=last_only), y=None, batch_size=B,
                     shuffle=False, callbacks=callbacks, validates_itself=val_rows is not None,
                     n_train=n, x_shape=[n, C, len(frame.features)],
                     y_shape=[n, 1 if last_only else C, len(frame.targets)],
                     steps_per_execution=1)  # batch-level resets need every batch boundary
    notes.append(f"stateful layout: {layout.rows} row(s) x {layout.chunks} chunks of {C} "
                 f"steps, {layout.groups} row group(s) of {B}; state reset every "
                 f"{layout.chunks} batches")
    return scaler, data, notes


def _scaled_rows(frame: Frame, scaler: Scaler, used: list) -> Rows:
    """The used series scaled, stacked into one float32 array (a file beside a store on
    disk), each series a span of it."""
    from lstmcli.training.pipeline import stack_series

    lengths = [len(s) for s, _ in used]
    flat, offsets = stack_series(lengths, len(frame.columns),
                                 (scaler.of(s.id).transform(s.values) for s, _ in used),
                                 frame.store.directory)
    return Rows(flat, [(int(o), int(o) + n) for o, n in zip(offsets, lengths, strict=True)])


def first_inputs(frame: Frame) -> list[int | None]:
    """For each target, its feature column (None if it is not a feature): what a seq2seq
    decoder reads at its first step."""
    return [frame.features.index(t) if t in frame.features else None for t in frame.targets]


def sequence_layout(frame: Frame, config: Config) -> tuple[Scaler, TrainData, list[str]]:
    """Variable-length sequences: each series' training rows are one sample of its own
    length; batches hold sequences of one length (or are padded, masked, when asked)."""
    from lstmcli.training.pipeline import sequence_batches, sequence_dataset
    from lstmcli.training.stateful import training_callbacks

    t = config.training
    used, notes = usable_series(frame, config, 2)
    scaler = fit_scaler(frame, config, used)
    scaled = _scaled_rows(frame, scaler, used)
    # the batches are built in memory: each sequence is one whole sample
    rows = [scaled.piece(i, 0, n) for i, (_, n) in enumerate(used)]
    batches = sequence_batches(rows, batch_size=t.batch_size, padding=config.window.padding,
                               feature_idx=frame.feature_idx, target_idx=frame.target_idx)
    lengths = sorted({len(r) for r in rows})
    notes.append(f"variable-length sequences: {len(rows)} series of {lengths[0]}-{lengths[-1]} "
                 f"training steps in {len(batches)} batch(es)" +
                 (", padded to the longest in each batch (masked)" if config.window.padding
                  else " of equal-length sequences, no padding"))
    val_rows = scaled if t.validation > 0 else None
    callbacks = training_callbacks(chunks=1, config=config, val_rows=val_rows,
                                   train_steps=[n for _, n in used],
                                   feature_idx=frame.feature_idx, target_idx=frame.target_idx)
    n = sum(len(b[0]) for b in batches)
    data = TrainData(x=sequence_dataset(batches, shuffle=t.shuffle, seed=t.seed), y=None,
                     batch_size=t.batch_size, shuffle=t.shuffle, n_train=n,
                     x_shape=[n, None, len(frame.features)], y_shape=[n, None, len(frame.targets)],
                     callbacks=callbacks, validates_itself=val_rows is not None,
                     steps_per_execution=1)  # batches differ in length
    return scaler, data, notes
