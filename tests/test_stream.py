"""Streaming equals in-memory: the same columns, counts, scaler, windows and tails as
read_series + split_windows, with chunks of 7 rows so that windows cross chunk boundaries."""

import io
import re

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, long_csv, wide_csv, write_yaml
from lstmcli import layouts, stream
from lstmcli.config import DataSpec, config_from_dict
from lstmcli.data import read_series
from lstmcli.errors import ConfigError, DataError

CHUNK = 7  # rows per chunk: every series spans several chunks


def config(**sections):
    """TINY with some keys of its sections replaced: config(window={"stride": 2})."""
    doc = {k: dict(v) for k, v in TINY.items()}
    for key, value in sections.items():
        doc.setdefault(key, {}).update(value)
    return config_from_dict(doc)


def panel_csv(path, lengths=(30, 25, 20), *, interleave=False, columns=("a", "b"),
              freq="D"):
    """A long-format file; interleave: rows sorted by time across series (a panel)."""
    rng = np.random.default_rng(2)
    frames = []
    for k, n in enumerate(lengths):
        frame = pd.DataFrame({"unique_id": f"s{k}",
                              "ds": pd.date_range("2024-01-01", periods=n, freq=freq)})
        for j, c in enumerate(columns):
            frame[c] = np.round(10 * j + 3 * k + np.sin(np.arange(n) / 2 + j)
                                + rng.normal(0, 0.1, n), 4)
        frames.append(frame)
    df = pd.concat(frames)
    if interleave:
        df = df.sort_values(["ds", "unique_id"], kind="stable")
    df.to_csv(path, index=False)
    return path


def windows(dataset) -> list[tuple[bytes, ...]]:
    """Every window of a batched dataset as bytes: (x, [prev,] y) per window, in order."""
    import tensorflow as tf  # noqa: TID253

    out = []
    for batch in dataset:
        arrays = [a.numpy() for a in tf.nest.flatten(batch)]
        out += [tuple(a[i].tobytes() for a in arrays) for i in range(len(arrays[0]))]
    return out


def assert_scan_matches(sf, frame):
    for key in ("features", "targets", "columns", "feature_idx", "target_idx", "time_col",
                "series_col", "freq", "notes"):
        assert getattr(sf, key) == getattr(frame, key), key
    assert [(s.id, s.n_rows, s.last_ds) for s in sf.series] == \
        [(s.id, len(s.values), s.ds[-1]) for s in frame.series]


@pytest.mark.parametrize("make, spec", [
    (lambda p: long_csv(p), DataSpec()),
    (lambda p: panel_csv(p), DataSpec()),
    (lambda p: panel_csv(p, interleave=True), DataSpec()),
    (lambda p: panel_csv(p, columns=("a", "b", "c")), DataSpec(features=["a", "b"],
                                                                targets=["c"])),
    (lambda p: panel_csv(p, (70, 90), freq="MS"), DataSpec()),
    (lambda p: wide_csv(p, columns=("a", "b")), DataSpec()),
    (lambda p: wide_csv(p, n=100, freq="h"), DataSpec(scaling="standard")),
], ids=["long", "two-columns", "interleaved", "features-targets", "monthly", "wide", "hourly"])
def test_scan_agrees_with_read_series(tmp_path, make, spec):
    path = make(tmp_path / "f.csv")
    assert_scan_matches(stream.scan(path, spec, chunk_rows=CHUNK), read_series(path, spec))


def test_scan_without_time_column_and_with_dropped_rows(tmp_path):
    path = tmp_path / "steps.csv"
    v = np.arange(40.0)
    v[[3, 17, 39]] = np.nan  # the last row too: last_ds is the last kept step
    pd.DataFrame({"unique_id": ["x"] * 20 + ["y"] * 20, "v": v}).to_csv(path, index=False)
    spec = DataSpec(missing="drop")
    sf = stream.scan(path, spec, chunk_rows=CHUNK)
    assert_scan_matches(sf, read_series(path, spec))
    assert sf.freq == 1 and [s.last_ds for s in sf.series] == [19, 18]
    assert sf.notes == ["series 'x': 2 missing value(s) handled by 'drop'",
                        "series 'y': 1 missing value(s) handled by 'drop'"]


def test_frequency_checked_past_the_first_timestamps(tmp_path):
    """The frequency comes from each series' first FREQ_HEAD stamps; a missing day later on
    is a gap, found as read_series (which looks at all of them) finds it; a stamp between
    two days makes the series irregular."""
    n = stream.FREQ_HEAD + 30
    path = panel_csv(tmp_path / "gap.csv", (n, n))
    df = pd.read_csv(path)
    df = df.drop(index=df.index[n + stream.FREQ_HEAD + 10])  # a day missing in s1, late
    df.to_csv(path, index=False)
    gap = (f"1 missing time stamp in 1 gap at frequency 'D' (first: 2024-03-15, after line "
           f"{n + stream.FREQ_HEAD + 10 + 1} of series 's1')")
    for read in (read_series, lambda p, spec: stream.scan(p, spec, chunk_rows=CHUNK)):
        with pytest.raises(DataError, match=re.escape(gap + "; set data.missing (--missing)")):
            read(path, DataSpec())
    spec = DataSpec(missing="drop")
    sf = stream.scan(path, spec, chunk_rows=CHUNK)
    assert_scan_matches(sf, read_series(path, spec))
    assert sf.freq == "D" and sf.notes == [f"{gap}; left out by data.missing: drop "
                                           "(windows run across the gaps)"]
    assert sf.series[0].holes is None
    assert sf.series[1].holes.tolist() == [[stream.FREQ_HEAD + 10, 1]]
    # the rows after the gap are a day further on than their places
    at = stream.time_places(sf.series[1], np.array([0, stream.FREQ_HEAD + 9,
                                                    stream.FREQ_HEAD + 10, n - 2]))
    assert at.tolist() == [0, stream.FREQ_HEAD + 9, stream.FREQ_HEAD + 11, n - 1]
    path = wide_csv(tmp_path / "irregular.csv", n=n)
    df = pd.read_csv(path)
    df.loc[len(df) - 5, "date"] = df.loc[len(df) - 5, "date"].replace("00:00:00", "12:00:00")
    df.to_csv(path, index=False)
    sf = stream.scan(path, DataSpec(), chunk_rows=CHUNK)
    assert_scan_matches(sf, read_series(path, DataSpec()))
    assert sf.freq is None and "could not infer the time frequency" in sf.notes[-1]


@pytest.mark.parametrize("n", [stream.FREQ_HEAD - 1, stream.FREQ_HEAD, stream.FREQ_HEAD + 1])
def test_short_irregular_series_placed_on_the_common_frequency_as_in_memory(tmp_path, n):
    """A series whose stamps give no frequency of their own is placed on the one the other
    series agree on when it has at most FREQ_HEAD rows (its gaps counted), not when longer:
    in memory and streamed alike, also at exactly FREQ_HEAD rows."""
    rng = np.random.default_rng(0)
    steps = pd.to_timedelta(np.cumsum(rng.integers(1, 4, n)), unit="D")
    path = tmp_path / "short.csv"
    pd.concat([pd.DataFrame({"unique_id": "reg", "ds": pd.date_range("2024-01-01", periods=100),
                             "y": np.arange(100.0)}),
               pd.DataFrame({"unique_id": "short", "ds": pd.Timestamp("2024-01-01") + steps,
                             "y": np.arange(float(n))})]).to_csv(path, index=False)
    placed = n <= stream.FREQ_HEAD
    errors = []
    for read in (read_series, lambda p, spec: stream.scan(p, spec, chunk_rows=CHUNK)):
        try:
            read(path, DataSpec())
        except DataError as exc:
            errors.append(str(exc).split("; set data.missing")[0])
    assert len(errors) == 2 * placed and len(set(errors)) <= 1
    if placed:
        assert re.search(r"missing time stamps in \d+ gaps at frequency 'D' .*series 'short'",
                         errors[0])
    spec = DataSpec(missing="drop")
    sf = stream.scan(path, spec, chunk_rows=CHUNK)
    assert_scan_matches(sf, read_series(path, spec))
    assert (sf.series[1].holes is not None) == placed


@pytest.mark.parametrize("scaling", ["minmax", "standard", "none"])
def test_fit_scaler_equals_the_in_memory_scaler(tmp_path, scaling):
    path = panel_csv(tmp_path / "p.csv", (30, 6, 25))  # s1 too short: skipped, with a note
    cfg = config(data={"scaling": scaling})
    frame = read_series(path, cfg.data)
    used, notes = layouts.usable_series(frame, cfg, cfg.window.look_back + cfg.window.horizon)
    ref = layouts.fit_scaler(frame, cfg, used)
    scaler, s_used, s_notes = stream.fit_scaler(stream.scan(path, cfg.data, chunk_rows=CHUNK),
                                                cfg)
    assert scaler.kind == ref.kind and scaler.columns == ref.columns
    np.testing.assert_allclose(scaler.shift, ref.shift, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scaler.scale, ref.scale, rtol=1e-9, atol=1e-12)
    assert [(s.id, n) for s, n in s_used] == [(s.id, n) for s, n in used]
    assert s_notes == notes and "series 's1' skipped" in notes[0]


def test_standard_scaler_is_stable_on_large_offsets():
    """Chan's update keeps the variance of values near 1e9 (naive sums lose it)."""
    rng = np.random.default_rng(0)
    rows = 1e9 + rng.normal(size=(5000, 1))
    acc = stream._Moments(1)
    for part in np.array_split(rows, 37):
        acc.add(part)
    np.testing.assert_allclose(acc.mean, rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(acc.m2 / acc.n), rows.std(axis=0), rtol=1e-9)


CASES = {
    "many_to_one": {"window": {"look_back": 4, "horizon": 2, "stride": 2}},
    "many_to_many": {"model": {"topology": "many_to_many", "layers": [{"units": 4}]}},
    "seq2seq-teacher": {"window": {"look_back": 3, "horizon": 3},
                        "model": {"topology": "seq2seq", "teacher_forcing": True,
                                  "layers": [{"units": 4}]}},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("interleave", [False, True], ids=["contiguous", "interleaved"])
def test_windows_equal_split_windows(tmp_path, case, interleave):
    path = panel_csv(tmp_path / "p.csv", (30, 25, 20), interleave=interleave,
                     columns=("a", "b", "c"))
    for shuffle in (False, True):
        cfg = config(**CASES[case], data={"features": ["a", "b"], "targets": ["c", "a"]},
                     training={"shuffle": shuffle, "batch_size": 5})
        _, ref, _ = layouts.split_windows(read_series(path, cfg.data), cfg)
        sf, _, data, notes = stream.stream_layout(path, cfg, chunk_rows=CHUNK, shuffle_buffer=8)
        assert (data.n_train, data.n_val, data.x_shape, data.y_shape) == \
            (ref.n_train, ref.n_val, ref.x_shape, ref.y_shape)
        assert data.steps_per_execution == ref.steps_per_execution and data.shuffle == shuffle
        for mine, theirs in ((data.x, ref.x), (data.val, ref.val)):
            got, want = windows(mine), windows(theirs)
            assert sorted(got) == sorted(want) and len(got) > 0
            if not shuffle and not interleave:  # file order is split_windows' order
                assert got == want
        if shuffle:
            assert windows(data.x) != windows(data.x)  # reshuffled every epoch


def test_windows_of_a_wide_file_with_dropped_rows(tmp_path):
    """Rows dropped for missing values shift the row numbers of what follows, as in memory."""
    path = wide_csv(tmp_path / "w.csv", n=60, columns=("a", "b"))
    df = pd.read_csv(path)
    df.loc[[5, 6, 31, 59], "b"] = np.nan
    df.to_csv(path, index=False)
    cfg = config(window={"look_back": 5, "horizon": 2, "stride": 3},
                 data={"missing": "drop", "scaling": "standard"})
    _, ref, _ = layouts.split_windows(read_series(path, cfg.data), cfg)
    _, _, data, _ = stream.stream_layout(path, cfg, chunk_rows=CHUNK)
    assert (data.n_train, data.n_val) == (ref.n_train, ref.n_val)
    assert sorted(windows(data.x)) == sorted(windows(ref.x))
    assert windows(data.val) == windows(ref.val)


def test_no_validation_part(tmp_path):
    path = long_csv(tmp_path / "l.csv")
    cfg = config(training={"validation": 0.0})
    _, ref, _ = layouts.split_windows(read_series(path, cfg.data), cfg)
    _, _, data, _ = stream.stream_layout(path, cfg, chunk_rows=CHUNK)
    assert data.val is None and ref.val is None and data.n_train == ref.n_train == 63


def test_streamed_training_runs(tmp_path):
    from lstmcli.topology import build_model
    from lstmcli.train import fit, seed_everything

    cfg = config(training={"epochs": 1})
    sf, _, data, _ = stream.stream_layout(long_csv(tmp_path / "l.csv"), cfg, chunk_rows=CHUNK)
    seed_everything(0)
    model = build_model(cfg.model, look_back=4, n_features=1, horizon=1, n_targets=1,
                        stateful=False, batch_size=8, first_input=[0], masking=False)
    result = fit(model, data, cfg.training, jit_compile=False)
    assert result.monitor == "val_loss" and np.isfinite(result.best_loss)


def test_tails_equal_the_in_memory_tails(tmp_path):
    path = panel_csv(tmp_path / "p.csv", (30, 3, 25), interleave=True)
    sf = stream.scan(path, DataSpec(), chunk_rows=CHUNK)
    got = stream.tails(sf, 5)
    want = [s.values[-5:] for s in read_series(path, DataSpec()).series]
    assert [g.shape for g in got] == [(5, 2), (3, 2), (5, 2)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_rows_out_of_time_order_are_refused(tmp_path):
    path = long_csv(tmp_path / "l.csv")
    lines = path.read_text().splitlines()
    lines[40], lines[41] = lines[41], lines[40]  # two days of s1 swapped: line 41 goes back
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 42: series 's1': timestamp 2024-01-10 00:00:00 "
                                        r"is earlier than the row before it \(2024-01-11 "
                                        r"00:00:00\); streaming needs each series' rows in "
                                        r"time order"):
        stream.scan(path, DataSpec(), chunk_rows=CHUNK)
    lines[41] = lines[40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 42: duplicate timestamp 2024-01-11 00:00:00 in "
                                        "series 's1'"):
        stream.scan(path, DataSpec(), chunk_rows=CHUNK)


def test_missing_values_need_drop_or_error(tmp_path):
    path = long_csv(tmp_path / "l.csv")
    assert stream.scan(path, DataSpec(missing="interpolate"), chunk_rows=CHUNK).series
    lines = path.read_text().splitlines()
    lines[12] = lines[12].rsplit(",", 1)[0] + ","
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 13: missing value in column 'y' \(series 's0'\): "
                                        "data.missing 'interpolate' needs the whole series"):
        stream.scan(path, DataSpec(missing="interpolate"), chunk_rows=CHUNK)
    with pytest.raises(DataError, match="line 13: .*; set data.missing to drop"):
        stream.scan(path, DataSpec(), chunk_rows=CHUNK)


def test_variable_length_is_refused(tmp_path):
    cfg = config(window={"look_back": None}, model={"topology": "many_to_many",
                                                    "layers": [{"units": 4}]})
    with pytest.raises(ConfigError, match="window.look_back: null"):
        stream.stream_layout(long_csv(tmp_path / "l.csv"), cfg, chunk_rows=CHUNK)


def test_streaming_train_and_rollout_match_in_memory(tmp_path, cli):
    """Through the CLI: `data.stream: true` trains on the same windows in the same order
    (shuffle off) as the in-memory path, so the weights and the rollout are the same; the
    streaming rollout reads only each series' last rows."""
    from lstmcli.bundle import load_bundle

    data = long_csv(tmp_path / "long.csv", lengths=(40, 35, 30))
    training = {**TINY["training"], "shuffle": False}
    for name, streaming in (("mem", False), ("stream", True)):
        cfg = write_yaml(tmp_path / f"{name}.yaml", {**TINY, "training": training,
                                                     "data": {"stream": streaming}})
        cli("train", data, "-c", cfg, "-o", tmp_path / name, "--quiet")
    a, b = load_bundle(tmp_path / "mem"), load_bundle(tmp_path / "stream")
    assert a.meta["last_ds"] == b.meta["last_ds"] and a.meta["freq"] == b.meta["freq"]
    for x, y in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
    mem = cli("rollout", data, "-m", tmp_path / "mem", "-H", "4").stdout
    streamed = cli("rollout", data, "-m", tmp_path / "stream", "-H", "4")
    mem_table = pd.read_csv(io.StringIO(mem))
    stream_table = pd.read_csv(io.StringIO(streamed.stdout))
    pd.testing.assert_frame_equal(mem_table[stream_table.columns], stream_table, atol=1e-5)
    assert "streaming: read the last 4 row(s) of each series" in streamed.stderr
    # predict: every window, written block by block, the same rows as the in-memory path
    mem = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "mem").stdout))
    out = tmp_path / "preds.csv"
    doc = cli.json("predict", data, "-m", tmp_path / "stream", "-o", out)
    assert doc["streamed"] and doc["windows"] == len(mem)
    streamed = pd.read_csv(out)  # the same columns but the intervals, and a note says why
    assert list(streamed.columns) == [c for c in mem.columns if "_lo_" not in c
                                      and "_hi_" not in c] != list(mem.columns)
    assert any(n.startswith("no prediction intervals: streaming runs") for n in doc["notes"])
    pd.testing.assert_frame_equal(mem[streamed.columns], streamed, atol=1e-4)
    result = cli("predict", data, "-m", tmp_path / "stream", "--json", code=2)
    assert "needs --out" in result.stderr
    # predict --last reads only the last look_back rows of each series
    mem = cli("predict", data, "-m", tmp_path / "mem", "--last").stdout
    result = cli("predict", data, "-m", tmp_path / "stream", "--last")
    assert "streaming: read the last 4 row(s) of each series" in result.stderr
    streamed = pd.read_csv(io.StringIO(result.stdout))
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(mem))[streamed.columns], streamed,
                                  atol=1e-5)
