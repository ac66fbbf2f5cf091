"""Property-based tests (hypothesis) of windowing, the stateful chunk layout and CSV parsing.

Every property is checked against a plain-Python reference computed in the test itself
(a loop over start rows, a hand-padded row, the DataFrame that was written), never against
lstmcli's own arithmetic.
"""

from __future__ import annotations

import string
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmcli.config import DataSpec
from lstmcli.data.read import read_series
from lstmcli.data.recognition import SERIES_NAME, TIME_NAMES
from lstmcli.training.pipeline import stack_series
from lstmcli.training.windows import (
    PAD,
    chunk_layout,
    input_windows,
    left_pad,
    make_windows,
    n_windows,
    split_segments,
    window_starts,
)

FAST = settings(max_examples=150, deadline=None)
CSV = settings(max_examples=40, deadline=None)  # each example writes and reads a file

FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False,
                   allow_subnormal=False)
FREQS = {"D": "D", "h": "h"}  # what the CSV is written with -> the alias read_series infers
TIME_COLUMN = st.sampled_from(["date", "ds", "time", "timestamp", "datetime"])
VALUE_NAME = st.text(string.ascii_letters + "_", min_size=1, max_size=8).filter(
    lambda s: s.lower() not in TIME_NAMES and s.lower() != SERIES_NAME)


def selection(cols: int):
    """A non-empty list of distinct column indices, in any order (features or targets)."""
    return st.lists(st.integers(0, cols - 1), min_size=1, max_size=cols, unique=True)


def reference_starts(n: int, look_back: int, horizon: int, stride: int) -> list[int]:
    """docs/windows.md: windows start at 0, stride, 2*stride, ... while the input and its
    targets fit in the series (the classic create_dataset, keeping its last window)."""
    starts, s = [], 0
    while s + look_back + horizon <= n:
        starts.append(s)
        s += stride
    return starts


def timestamps(draw, n: int, freq: str) -> pd.DatetimeIndex:
    start = pd.Timestamp(draw(st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1))))
    return pd.date_range(start.floor(freq), periods=n, freq=freq)


# ------------------------------------------------------------------------- windowing


@FAST
@given(data=st.data(), n=st.integers(0, 40), cols=st.integers(1, 3),
       look_back=st.integers(1, 12), horizon=st.integers(1, 6), stride=st.integers(1, 5))
def test_windows_match_a_plain_loop(data, n, cols, look_back, horizon, stride):
    values = np.arange(n * cols, dtype="float64").reshape(n, cols)  # every cell distinct
    feature_idx, target_idx = data.draw(selection(cols)), data.draw(selection(cols))
    ref = reference_starts(n, look_back, horizon, stride)
    kw = dict(look_back=look_back, horizon=horizon, stride=stride)

    X, y = make_windows(values, feature_idx=feature_idx, target_idx=target_idx, **kw)
    assert n_windows(n, **kw) == len(ref)
    documented = (n - look_back - horizon) // stride + 1 if n >= look_back + horizon else 0
    assert len(ref) == documented  # the count docs/windows.md gives
    assert window_starts(n, **kw).tolist() == ref
    assert X.shape == (len(ref), look_back, len(feature_idx))
    assert y.shape == (len(ref), horizon, len(target_idx))
    for i, s in enumerate(ref):
        for t in range(look_back):
            assert X[i, t].tolist() == [values[s + t, c] for c in feature_idx]
        for h in range(horizon):  # the targets are the rows right after the input
            assert y[i, h].tolist() == [values[s + look_back + h, c] for c in target_idx]

    every = input_windows(values, look_back=look_back, stride=stride)
    ref_inputs = list(range(0, n - look_back + 1, stride))
    assert every.shape == (len(ref_inputs), look_back, cols)
    for i, s in enumerate(ref_inputs):
        assert every[i].tolist() == values[s:s + look_back].tolist()


@FAST
@given(values=arrays("float64", st.integers(3, 40), elements=FINITE),
       look_back=st.integers(1, 10))
def test_equals_create_dataset_plus_its_dropped_last_window(values, look_back):
    if len(values) < look_back + 2:
        look_back = len(values) - 2
    trainX = [values[i:i + look_back].tolist() for i in range(len(values) - look_back - 1)]
    trainY = [values[i + look_back] for i in range(len(values) - look_back - 1)]
    X, y = make_windows(values[:, None], look_back=look_back)
    assert X[:, :, 0].tolist() == trainX + [values[-look_back - 1:-1].tolist()]
    assert y[:, 0, 0].tolist() == trainY + [values[-1]]


@st.composite
def several_series(draw):
    """1-5 series of 1-25 rows; value = 1000 * series + row, so a value names its origin."""
    lengths = draw(st.lists(st.integers(1, 25), min_size=1, max_size=5))
    freq = draw(st.sampled_from(sorted(FREQS)))
    frames = [pd.DataFrame({SERIES_NAME: f"s{k}", "ds": timestamps(draw, n, freq),
                            "y": 1000.0 * k + np.arange(n)}) for k, n in enumerate(lengths)]
    long = pd.concat(frames, ignore_index=True)
    order = draw(st.permutations(range(len(long))))  # rows of the series interleaved
    return lengths, long.iloc[order]


@CSV
@given(case=several_series(), look_back=st.integers(1, 8), horizon=st.integers(1, 4),
       stride=st.integers(1, 3))
def test_no_window_crosses_a_series_boundary(case, look_back, horizon, stride):
    lengths, long = case
    kw = dict(look_back=look_back, horizon=horizon, stride=stride)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        long.to_csv(path, index=False)
        frame = read_series(path, DataSpec())
    by_id = {s.id: s for s in frame.series}
    assert sorted(by_id) == sorted(f"s{k}" for k in range(len(lengths)))

    # per series, as `lstmcli window` cuts them: every value of window i of series k is
    # 1000 * k + (its row), rows start .. start + look_back + horizon - 1 of that series
    for k, n in enumerate(lengths):
        X, y = make_windows(by_id[f"s{k}"].values, feature_idx=frame.feature_idx,
                            target_idx=frame.target_idx, **kw)
        ref = reference_starts(n, look_back, horizon, stride)
        assert len(X) == len(ref)
        for i, s in enumerate(ref):
            assert X[i, :, 0].tolist() == [1000.0 * k + s + t for t in range(look_back)]
            assert y[i, :, 0].tolist() == [1000.0 * k + s + look_back + h
                                           for h in range(horizon)]

    # stacked, as training cuts them: start rows offset into one flat array of all series
    series = frame.series
    flat, offsets = stack_series([len(s.values) for s in series], series[0].values.shape[1],
                                 [s.values for s in series])
    for s, offset in zip(series, offsets, strict=True):
        for g in offset + window_starts(len(s.values), **kw):
            rows = flat[g:g + look_back + horizon, 0]
            assert len(set(rows // 1000)) == 1, f"window at {g} mixes series: {rows}"
            assert rows.tolist() == s.values[g - offset:g - offset + len(rows), 0].tolist()


# ------------------------------------------------------------------ stateful layout


@st.composite
def stateful_case(draw):
    cols = draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(1, 30), min_size=1, max_size=7))
    rows = [draw(arrays("float32", (n, cols), elements=st.floats(-1e4, 1e4, width=32)))
            for n in lengths]
    return (rows, draw(st.integers(1, 4)), draw(st.integers(1, 8)), draw(selection(cols)),
            draw(selection(cols)))


def padded_reference(row: np.ndarray | None, span: int, cols: int):
    """Inputs, next-step targets and weights of one row left-padded to `span` steps, by hand."""
    pad = span - (0 if row is None else len(row))
    x, y, w = [], [], []
    for t in range(span - 1):
        x.append(row[t - pad] if t >= pad else np.full(cols, PAD, dtype="float32"))
        real = t >= pad  # then step t + 1 is real too
        y.append(row[t + 1 - pad] if real else np.zeros(cols, dtype="float32"))
        w.append(1.0 if real else 0.0)
    return np.array(x, dtype="float32"), np.array(y, dtype="float32"), np.array(w)


@FAST
@given(case=stateful_case())
def test_chunk_layout_rows_continue_across_batches(case):
    rows, batch_size, chunk_length, feature_idx, target_idx = case
    cols = rows[0].shape[1]
    layout = chunk_layout(rows, batch_size=batch_size, chunk_length=chunk_length,
                          feature_idx=feature_idx, target_idx=target_idx)
    chunks = 1
    while chunks * chunk_length < max(len(r) for r in rows) - 1:
        chunks += 1
    groups = (len(rows) + batch_size - 1) // batch_size
    span = chunks * chunk_length + 1
    assert (layout.chunks, layout.groups, layout.rows) == (chunks, groups, len(rows))
    assert layout.padded_steps == sum(span - len(r) for r in rows)
    assert layout.X.shape == (groups * chunks * batch_size, chunk_length, len(feature_idx))
    assert layout.Y.shape == (groups * chunks * batch_size, chunk_length, len(target_idx))

    for g in range(groups):
        for j in range(batch_size):
            # row j of batches g*chunks, g*chunks + 1, ... concatenates back to one row
            samples = [(g * chunks + k) * batch_size + j for k in range(chunks)]
            x = np.concatenate([layout.X[i] for i in samples])
            y = np.concatenate([layout.Y[i] for i in samples])
            w = np.concatenate([layout.weight[i] for i in samples])
            r = g * batch_size + j
            ref_x, ref_y, ref_w = padded_reference(rows[r] if r < len(rows) else None, span,
                                                   cols)
            np.testing.assert_array_equal(x, ref_x[:, feature_idx])
            np.testing.assert_array_equal(y, ref_y[:, target_idx])
            np.testing.assert_array_equal(w, ref_w)


@FAST
@given(data=st.data(), n=st.integers(2, 60), cols=st.integers(1, 2))
def test_split_segments_share_one_boundary_row_and_trim_the_oldest(data, n, cols):
    segments_wanted = data.draw(st.integers(1, n - 1))
    values = np.arange(n * cols, dtype="float64").reshape(n, cols)
    segments, trimmed = split_segments(values, segments_wanted)
    assert len(segments) == segments_wanted
    assert len({len(s) for s in segments}) == 1 and len(segments[0]) >= 2
    assert 0 <= trimmed < segments_wanted  # fewer than one row per segment is lost
    rebuilt = [segments[0][0].tolist()]
    for prev, seg in zip([None, *segments[:-1]], segments, strict=True):
        if prev is not None:
            assert seg[0].tolist() == prev[-1].tolist()  # shared boundary row
        rebuilt += seg[1:].tolist()
    assert rebuilt == values[trimmed:].tolist()


@FAST
@given(lengths=st.lists(st.integers(1, 20), min_size=1, max_size=6), extra=st.integers(0, 3))
def test_left_pad_right_aligns_every_row(lengths, extra):
    rows = [np.arange(n, dtype="float32")[:, None] + 100 * i for i, n in enumerate(lengths)]
    out = left_pad(rows, len(rows) + extra)
    longest = max(lengths)
    assert out.shape == (len(rows) + extra, longest, 1)
    for i in range(len(rows) + extra):
        ref = [PAD] * longest if i >= len(rows) else (
            [PAD] * (longest - lengths[i]) + rows[i][:, 0].tolist())
        np.testing.assert_array_equal(out[i, :, 0], np.array(ref, dtype="float32"))


# ----------------------------------------------------------------------- CSV parsing


@st.composite
def wide_frame(draw):
    n = draw(st.integers(2, 50))
    names = draw(st.lists(VALUE_NAME, min_size=1, max_size=3, unique=True))
    freq = draw(st.sampled_from(sorted(FREQS)))
    values = draw(arrays("float64", (n, len(names)), elements=FINITE))
    return pd.DataFrame(values, columns=names, index=timestamps(draw, n, freq)), freq


def check_wide(frame, df: pd.DataFrame, freq: str, time_col: str) -> None:
    names, n = list(df.columns), len(df)
    assert frame.time_col == time_col and frame.series_col is None
    assert frame.features == names and frame.targets == names and frame.columns == names
    assert len(frame.series) == 1
    s = frame.series[0]
    assert s.values.shape == (n, len(names))
    np.testing.assert_allclose(s.values, df.to_numpy(), rtol=1e-9, atol=0)
    assert list(s.ds) == list(df.index)
    assert frame.freq == (FREQS[freq] if n >= 3 else None)  # 2 stamps are too few to infer


@CSV
@given(case=wide_frame(), time_col=TIME_COLUMN)
def test_wide_csv_round_trip(case, time_col):
    df, freq = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        df.to_csv(path, index_label=time_col)
        frame = read_series(path, DataSpec())
    check_wide(frame, df, freq, time_col)
    assert not any("not in time order" in note for note in frame.notes)


@CSV
@given(case=wide_frame(), time_col=TIME_COLUMN, data=st.data())
def test_shuffled_wide_csv_reads_back_sorted(case, time_col, data):
    df, freq = case
    order = data.draw(st.permutations(range(len(df))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shuffled.csv"
        df.iloc[order].to_csv(path, index_label=time_col)
        frame = read_series(path, DataSpec())
    check_wide(frame, df, freq, time_col)
    shuffled = list(order) != sorted(order)
    assert any("not in time order" in note for note in frame.notes) == shuffled


@st.composite
def long_frame(draw):
    """2-4 series (ids that cannot be mistaken for numbers) of 1-20 rows, one frequency,
    each from its own start, written with their rows interleaved."""
    ids = draw(st.lists(st.text(string.ascii_letters, min_size=1, max_size=5), min_size=2,
                        max_size=4, unique=True))
    ids = [f"id_{i}" for i in ids]
    freq = draw(st.sampled_from(sorted(FREQS)))
    parts = {}
    for sid in ids:
        n = draw(st.integers(1, 20))
        parts[sid] = pd.DataFrame({"value": draw(arrays("float64", n, elements=FINITE))},
                                  index=timestamps(draw, n, freq))
    rows = pd.concat([pd.DataFrame({SERIES_NAME: sid, "ds": p.index, "value": p["value"]})
                      for sid, p in parts.items()], ignore_index=True)
    order = draw(st.permutations(range(len(rows))))
    return parts, freq, rows.iloc[order]


@CSV
@given(case=long_frame())
def test_long_csv_gives_each_series_its_own_rows(case):
    parts, freq, written = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        written.to_csv(path, index=False)
        frame = read_series(path, DataSpec())
    assert frame.is_long and frame.series_col == SERIES_NAME and frame.features == ["value"]
    assert [s.id for s in frame.series] == list(pd.unique(written[SERIES_NAME]))  # file order
    for s in frame.series:
        ref = parts[s.id]
        assert s.values.shape == (len(ref), 1)
        np.testing.assert_allclose(s.values[:, 0], ref["value"].to_numpy(), rtol=1e-9, atol=0)
        assert list(s.ds) == list(ref.index)
    inferable = any(len(p) >= 3 for p in parts.values())
    assert frame.freq == (FREQS[freq] if inferable else None)


def test_numeric_looking_series_ids_are_kept_verbatim():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.csv"
        path.write_text("unique_id,ds,y\n007,2024-01-01,1\n7,2024-01-02,2\n")
        frame = read_series(path, DataSpec())
    assert [s.id for s in frame.series] == ["007", "7"]
