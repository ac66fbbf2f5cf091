"""data.stream: the series store lives in files, memory-mapped on access, instead of in
memory; everything else is the same code. So the store on disk must equal the store in
memory bit for bit (ids, stamps, values, columns, frequency, notes), and so must what is
built on it: the scaler, the stateless windows and the stateful batches. Through the CLI a
streamed run trains the same weights and predicts and rolls out the same tables as the
in-memory run (test_stream_matrix.py runs the feature matrix), reads the CSV once (a file
edited during training does not matter) and leaves no work files behind."""

import gc
import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, long_csv, wide_csv, write_yaml
from lstmcli.config import DataSpec, config_from_dict
from lstmcli.data import timegrid
from lstmcli.data.read import read_series
from lstmcli.data.scaling import Scaler
from lstmcli.errors import DataError
from lstmcli.training import layouts

# ------------------------------------------------------------------------ helpers

# Keys that make a CLI training cheap: no per-epoch checkpoint, no interval calibration
# (the `runs` fixture keeps a short one: its predict has interval columns).
FAST = {"checkpoint_every": 0, "interval_steps": 0}


def config(**sections):
    """TINY with some keys of its sections replaced: config(window={"stride": 2})."""
    doc = {k: dict(v) for k, v in TINY.items()}
    for key, value in sections.items():
        doc.setdefault(key, {}).update(value)
    return config_from_dict(doc)


def stateful(*, batch_size=2, chunk_length=5, topology="many_to_many", missing="error",
             validation=0.2, stream_=False, epochs=1, features=None):
    return {"data": {"scaling": "standard", "missing": missing, "stream": stream_,
                     **({"features": features} if features else {})},
            "window": {"look_back": chunk_length},
            "model": {"topology": topology, "layers": [{"type": "lstm", "units": 4}]},
            "training": {"mode": "stateful", "batch_size": batch_size,
                         "chunk_length": chunk_length, "epochs": epochs,
                         "validation": validation, "seed": 3, **FAST}}


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


def shuffled(path):
    """The rows in random order: each series' rows out of time order, series interleaved."""
    pd.read_csv(path).sample(frac=1.0, random_state=5).to_csv(path, index=False)
    return path


def with_gaps(path, rows, column="a"):
    df = pd.read_csv(path)
    df.loc[list(rows), column] = np.nan
    df.to_csv(path, index=False)
    return path


def with_blank_lines(path, at=(20, 41)):
    lines = path.read_text().splitlines()
    for k in sorted(at, reverse=True):
        lines.insert(k, "")
    path.write_text("\n".join(lines) + "\n\n")  # and one at the end
    return path


def with_quoted_line_break(path):
    """A text column (not used) whose one cell holds a line break inside quotes: the
    file's lines are no longer its rows."""
    df = pd.read_csv(path)
    df["note"] = ""
    df.loc[30, "note"] = "two\nlines"
    df.to_csv(path, index=False)
    return path


def on_disk(path, spec):
    """read_series with the store in files (a fresh directory beside the CSV)."""
    directory = Path(tempfile.mkdtemp(prefix="store-", dir=Path(path).parent))
    frame = read_series(path, spec, store_dir=directory)
    assert frame.store.on_disk and frame.store.directory == directory
    return frame


def assert_same_frame(disk, mem):
    assert disk.store.on_disk and not mem.store.on_disk
    for key in ("features", "targets", "columns", "feature_idx", "target_idx", "time_col",
                "series_col", "freq", "notes", "derived", "ahead"):
        assert getattr(disk, key) == getattr(mem, key), key
    assert [s.id for s in disk.series] == [s.id for s in mem.series]
    for a, b in zip(disk.series, mem.series, strict=True):
        assert len(a) == len(b) and a.ds.dtype == b.ds.dtype and a.ds.equals(b.ds), a.id
        assert a.values.dtype == b.values.dtype == np.float64
        assert np.array_equal(a.values, b.values), a.id


def both(path, spec):
    """(on disk, in memory), checked equal."""
    disk, mem = on_disk(path, spec), read_series(path, spec)
    assert_same_frame(disk, mem)
    return disk, mem


def windows(dataset) -> list[tuple[bytes, ...]]:
    """Every window of a batched dataset as bytes: (x, [prev,] y[, weight]) in order."""
    import tensorflow as tf  # noqa: TID253

    out = []
    for batch in dataset:
        arrays = [a.numpy() for a in tf.nest.flatten(batch)]
        out += [tuple(a[i].tobytes() for a in arrays) for i in range(len(arrays[0]))]
    return out


def weights_equal(a, b, atol=1e-6):
    from lstmcli.runs.bundle import load_bundle

    wa, wb = load_bundle(a).model.get_weights(), load_bundle(b).model.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb, strict=True):
        np.testing.assert_allclose(x, y, atol=atol)


def table(text) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


# ------------------------------------------------------------------------ the store


def steps_with_dropped_rows(path):
    v = np.arange(40.0)
    v[[3, 17, 39]] = np.nan  # the last row too
    pd.DataFrame({"unique_id": ["x"] * 20 + ["y"] * 20, "v": v}).to_csv(path, index=False)
    return path


def gap_file(path):
    """Daily, y = day number, days 11..15 missing (a gap of 5 stamps)."""
    days = [d for d in range(30) if not 10 <= d < 15]
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=30)[days].strftime("%Y-%m-%d"),
                  "y": np.array(days, dtype=float)}).to_csv(path, index=False)
    return path


STORES = {  # name: (make the file, spec)
    "long": (lambda p: long_csv(p), DataSpec()),
    "two-columns": (lambda p: panel_csv(p), DataSpec()),
    "interleaved": (lambda p: panel_csv(p, interleave=True), DataSpec()),
    "features-targets": (lambda p: panel_csv(p, columns=("a", "b", "c")),
                         DataSpec(features=["a", "b"], targets=["c"])),
    "monthly": (lambda p: panel_csv(p, (70, 90), freq="MS"), DataSpec()),
    "wide": (lambda p: wide_csv(p, columns=("a", "b")), DataSpec()),
    "hourly": (lambda p: wide_csv(p, n=100, freq="h"), DataSpec(scaling="standard")),
    "steps-dropped-rows": (steps_with_dropped_rows, DataSpec(missing="drop")),
    "wide-dropped-rows": (lambda p: with_gaps(wide_csv(p, n=60, columns=("a", "b")),
                                              [5, 6, 31, 59], "b"), DataSpec(missing="drop")),
    "unsorted-rows": (lambda p: shuffled(panel_csv(p)), DataSpec()),
    "gap-interpolate": (gap_file, DataSpec(missing="interpolate")),
    "gap-ffill": (gap_file, DataSpec(missing="ffill")),
    "gap-drop": (gap_file, DataSpec(missing="drop")),
    "calendar-future": (lambda p: panel_csv(p, columns=("a", "b")),
                        DataSpec(features=["a", "b"], targets=["a"], future=["b"],
                                 calendar=["dayofweek", "month"])),
    "blank-lines": (lambda p: with_blank_lines(panel_csv(p)), DataSpec()),
    "quoted-line-break": (lambda p: with_quoted_line_break(panel_csv(p)),
                          DataSpec(features=["a", "b"])),
}


@pytest.mark.parametrize("name", list(STORES))
def test_the_store_on_disk_equals_the_store_in_memory(tmp_path, name):
    make, spec = STORES[name]
    disk, _ = both(make(tmp_path / "f.csv"), spec)
    if name == "steps-dropped-rows":
        assert disk.freq == 1 and [len(s) for s in disk.series] == [18, 19]
        assert disk.notes == ["series 'x': 2 missing value(s) handled by 'drop'",
                              "series 'y': 1 missing value(s) handled by 'drop'"]
    if name == "unsorted-rows":  # sorted, with a note per series
        assert disk.notes == [f"series 's{k}': rows were not in time order; sorted by 'ds'"
                              for k in range(3)]
        assert all(s.ds.is_monotonic_increasing for s in disk.series)
    if name == "gap-interpolate":  # the missing days filled as rows, on disk too
        s = disk.series[0]
        assert len(s) == 30 and list(s.ds) == list(pd.date_range("2024-01-01", periods=30))
        np.testing.assert_allclose(s.values[:, 0], np.arange(30.0))
        assert disk.notes[-1].endswith("; filled as rows by data.missing: interpolate")
    if name == "calendar-future":
        assert disk.derived and disk.ahead == ["b"]


def test_the_store_files_hold_the_values_and_stamps(tmp_path):
    """On disk, the rows are in the files of the store directory (not kept in memory)."""
    disk = on_disk(panel_csv(tmp_path / "p.csv"), DataSpec())
    from lstmcli.data.store import TIMES, VALUES

    values = np.fromfile(disk.store.directory / VALUES).reshape(-1, 2)
    times = np.fromfile(disk.store.directory / TIMES, dtype="int64")
    assert len(values) == len(times) == 75 and disk.store.n_rows == 75
    np.testing.assert_array_equal(values, np.concatenate([s.values for s in disk.series]))
    assert not (disk.store.directory / "staging").exists()  # the reader's rows are gone


def test_duplicate_timestamps_are_refused_on_disk(tmp_path):
    path = long_csv(tmp_path / "l.csv")
    lines = path.read_text().splitlines()
    lines[41] = lines[40]  # line 42 repeats line 41
    path.write_text("\n".join(lines) + "\n")
    for read in (read_series, on_disk):
        with pytest.raises(DataError, match="line 42: duplicate timestamp 2024-01-10 00:00:00 "
                                            "in series 's1'"):
            read(path, DataSpec())


def test_missing_values_on_disk(tmp_path):
    """interpolate fills a missing value (the whole series is at hand); the default refuses
    it with the in-memory message."""
    path = long_csv(tmp_path / "l.csv")
    lines = path.read_text().splitlines()
    lines[12] = lines[12].rsplit(",", 1)[0] + ","
    path.write_text("\n".join(lines) + "\n")
    disk, _ = both(path, DataSpec(missing="interpolate"))
    assert not np.isnan(disk.series[0].values).any()
    assert disk.notes == ["series 's0': 1 missing value(s) handled by 'interpolate'"]
    with pytest.raises(DataError, match=re.escape(
            "line 13: missing value in column 'y' (1 missing in series 's0'); set "
            "data.missing (--missing) to interpolate, ffill or drop")):
        on_disk(path, DataSpec())


def test_frequency_checked_past_the_first_timestamps(tmp_path):
    """The frequency comes from each series' first timegrid.HEAD stamps; a missing day later
    on is a gap; a stamp between two days makes the series irregular."""
    n = timegrid.HEAD + 30
    path = panel_csv(tmp_path / "gap.csv", (n, n))
    df = pd.read_csv(path)
    df = df.drop(index=df.index[n + timegrid.HEAD + 10])  # a day missing in s1, late
    df.to_csv(path, index=False)
    gap = (f"1 missing time stamp in 1 gap at frequency 'D' (first: 2024-03-15, after line "
           f"{n + timegrid.HEAD + 10 + 1} of series 's1')")
    for read in (read_series, on_disk):
        with pytest.raises(DataError, match=re.escape(gap + "; set data.missing (--missing)")):
            read(path, DataSpec())
    disk, _ = both(path, DataSpec(missing="drop"))
    assert disk.freq == "D" and disk.notes == [f"{gap}; left out by data.missing: drop "
                                               "(windows run across the gaps)"]
    path = wide_csv(tmp_path / "irregular.csv", n=n)
    df = pd.read_csv(path)
    df.loc[len(df) - 5, "date"] = df.loc[len(df) - 5, "date"].replace("00:00:00", "12:00:00")
    df.to_csv(path, index=False)
    disk, _ = both(path, DataSpec())
    assert disk.freq is None and "could not infer the time frequency" in disk.notes[-1]


@pytest.mark.parametrize("n", [timegrid.HEAD - 1, timegrid.HEAD, timegrid.HEAD + 1])
def test_short_irregular_series_placed_on_the_common_frequency(tmp_path, n):
    """A series whose stamps give no frequency of their own is placed on the one the other
    series agree on when it has at most timegrid.HEAD rows (its gaps counted), not when
    longer; on disk as in memory, also at exactly HEAD rows."""
    rng = np.random.default_rng(0)
    steps = pd.to_timedelta(np.cumsum(rng.integers(1, 4, n)), unit="D")
    path = tmp_path / "short.csv"
    pd.concat([pd.DataFrame({"unique_id": "reg", "ds": pd.date_range("2024-01-01", periods=100),
                             "y": np.arange(100.0)}),
               pd.DataFrame({"unique_id": "short", "ds": pd.Timestamp("2024-01-01") + steps,
                             "y": np.arange(float(n))})]).to_csv(path, index=False)
    placed = n <= timegrid.HEAD
    errors = []
    for read in (read_series, on_disk):
        try:
            read(path, DataSpec())
        except DataError as exc:
            errors.append(str(exc).split("; set data.missing")[0])
    assert len(errors) == 2 * placed and len(set(errors)) <= 1
    if placed:
        assert re.search(r"missing time stamps in \d+ gaps at frequency 'D' .*series 'short'",
                         errors[0])
    both(path, DataSpec(missing="drop"))


# ------------------------------------------------------------------------ layouts


@pytest.mark.parametrize("scaling", ["minmax", "standard", "none"])
@pytest.mark.parametrize("per_series", [False, True], ids=["pooled", "per-series"])
def test_fit_scaler_on_disk_equals_the_in_memory_scaler(tmp_path, scaling, per_series):
    path = panel_csv(tmp_path / "p.csv", (30, 6, 25))  # s1 too short: skipped, with a note
    cfg = config(data={"scaling": scaling, "scale_per_series": per_series})
    scalers = []
    for frame in both(path, cfg.data):
        used, notes = layouts.usable_series(frame, cfg, cfg.window.look_back +
                                            cfg.window.horizon)
        assert [s.id for s, _ in used] == ["s0", "s2"] and "series 's1' skipped" in notes[0]
        scalers.append(layouts.fit_scaler(frame, cfg, used))
    disk, mem = scalers
    assert (disk.kind, disk.columns) == (mem.kind, mem.columns)
    np.testing.assert_array_equal(disk.shift, mem.shift)
    np.testing.assert_array_equal(disk.scale, mem.scale)
    assert (disk.series or {}).keys() == (mem.series or {}).keys()
    for sid, (shift, scale) in (mem.series or {}).items():
        np.testing.assert_array_equal(disk.series[sid][0], shift)
        np.testing.assert_array_equal(disk.series[sid][1], scale)


def test_standard_scaler_is_stable_on_large_offsets():
    """Fitted part by part (a store on disk: series by series), values near 1e9 keep their
    variance (naive sums of squares lose it)."""
    rng = np.random.default_rng(0)
    rows = 1e9 + rng.normal(size=(5000, 1))
    scaler = Scaler.fit_parts("standard", ["y"], lambda: np.array_split(rows, 37))
    np.testing.assert_allclose(scaler.shift, rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale, rows.std(axis=0), rtol=1e-9)


CASES = {
    "many_to_one": {"window": {"look_back": 4, "horizon": 2, "stride": 2}},
    "many_to_many": {"model": {"topology": "many_to_many", "layers": [{"units": 4}]}},
    "seq2seq-teacher": {"window": {"look_back": 3, "horizon": 3},
                        "model": {"topology": "seq2seq", "teacher_forcing": True,
                                  "layers": [{"units": 4}]}},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("interleave", [False, True], ids=["contiguous", "interleaved"])
def test_windows_on_disk_equal_the_in_memory_windows(tmp_path, case, interleave):
    """split_windows on the two stores: the same windows in the same order (shuffle off),
    the validation windows too."""
    path = panel_csv(tmp_path / "p.csv", (30, 25, 20), interleave=interleave,
                     columns=("a", "b", "c"))
    cfg = config(**CASES[case], data={"features": ["a", "b"], "targets": ["c", "a"]},
                 training={"shuffle": False, "batch_size": 5})
    (_, disk, _), (_, mem, _) = (layouts.split_windows(f, cfg) for f in both(path, cfg.data))
    assert (disk.n_train, disk.n_val, disk.x_shape, disk.y_shape) == \
        (mem.n_train, mem.n_val, mem.x_shape, mem.y_shape)
    assert disk.steps_per_execution == mem.steps_per_execution and not disk.shuffle
    for got, want in ((disk.x, mem.x), (disk.val, mem.val)):
        got, want = windows(got), windows(want)
        assert got == want and len(got) > 0


def test_windows_of_a_wide_file_with_dropped_rows(tmp_path):
    """Rows dropped for missing values, standard scaling, shuffled: the same windows."""
    path = with_gaps(wide_csv(tmp_path / "w.csv", n=60, columns=("a", "b")), [5, 6, 31, 59],
                     "b")
    cfg = config(window={"look_back": 5, "horizon": 2, "stride": 3},
                 data={"missing": "drop", "scaling": "standard"})
    (s_disk, disk, _), (s_mem, mem, _) = (layouts.split_windows(f, cfg)
                                          for f in both(path, cfg.data))
    np.testing.assert_array_equal(s_disk.shift, s_mem.shift)
    assert (disk.n_train, disk.n_val) == (mem.n_train, mem.n_val)
    assert sorted(windows(disk.x)) == sorted(windows(mem.x))
    assert windows(disk.val) == windows(mem.val)


def test_no_validation_part(tmp_path):
    cfg = config(training={"validation": 0.0})
    disk, _ = both(long_csv(tmp_path / "l.csv"), cfg.data)
    _, data, _ = layouts.split_windows(disk, cfg)
    assert data.val is None and data.n_train == 63


STATEFUL = {  # name: (make the file, config keys)
    "sorted-by-series": (lambda p: panel_csv(p), {}),
    "sorted-by-time": (lambda p: panel_csv(p, interleave=True), {}),
    "unsorted-rows": (lambda p: shuffled(panel_csv(p)), {}),
    "groups-and-padding-rows": (lambda p: panel_csv(p, (40, 33, 27, 19, 50)),
                                {"batch_size": 2}),
    "one-series-in-segments": (lambda p: panel_csv(p, (61,)), {"batch_size": 3}),
    "segments-with-dropped-rows": (lambda p: with_gaps(panel_csv(p, (61,)), [3, 30, 44]),
                                   {"batch_size": 3, "missing": "drop"}),
    "series-with-dropped-rows": (lambda p: with_gaps(panel_csv(p), [5, 50]),
                                 {"missing": "drop"}),
    "blank-lines": (lambda p: with_blank_lines(panel_csv(p)), {}),
    "quoted-line-break": (lambda p: with_quoted_line_break(panel_csv(p)),
                          {"features": ["a", "b"]}),
    "many-to-one": (lambda p: panel_csv(p), {"topology": "many_to_one"}),
}


def stateful_batches(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and sample weights of every batch, in order, stacked, from the tf.data pipeline
    of (x, y, weight) batches (cut as it reaches them)."""
    parts = [[np.asarray(t) for t in batch] for batch in data.x]
    assert len(parts) * data.batch_size == data.n_train
    return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(3))


@pytest.mark.parametrize("name", list(STATEFUL))
def test_stateful_batches_on_disk_equal_the_in_memory_layout(tmp_path, name):
    """Equal to the in-memory layout, whose row-continuity test_stateful.py proves."""
    make, keys = STATEFUL[name]
    cfg = config_from_dict(stateful(**keys))
    (s_disk, disk, n_disk), (s_mem, mem, n_mem) = (
        layouts.stateful_layout(f, layouts.resolved(cfg, f))
        for f in both(make(tmp_path / "data.csv"), cfg.data))
    np.testing.assert_array_equal(s_disk.shift, s_mem.shift)
    np.testing.assert_array_equal(s_disk.scale, s_mem.scale)
    for a, b in zip(stateful_batches(disk), stateful_batches(mem), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    assert (disk.n_train, disk.x_shape, disk.y_shape, disk.validates_itself) == \
        (mem.n_train, mem.x_shape, mem.y_shape, mem.validates_itself)
    assert n_disk == n_mem and any(n.startswith("stateful layout: ") for n in n_disk)


# ------------------------------------------------------------------------ the CLI


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cli):
    """A stateless tiny model trained in memory and streamed (shuffle off) on one file."""
    root = tmp_path_factory.mktemp("stream_runs")
    data = long_csv(root / "long.csv", lengths=(40, 35, 30))
    training = {**TINY["training"], **FAST, "shuffle": False, "interval_steps": 4}
    for name, streaming in (("mem", False), ("stream", True)):
        cfg = write_yaml(root / f"{name}.yaml", {**TINY, "training": training,
                                                 "data": {"stream": streaming}})
        cli("train", data, "-c", cfg, "-o", root / name, "--quiet")
    listing = sorted(p.name for p in root.iterdir())
    return {"root": root, "data": data, "mem": root / "mem", "stream": root / "stream",
            "listing": listing}


@pytest.fixture(scope="module")
def stateful_runs(tmp_path_factory, cli):
    """Stateful, 5 series in 3 row groups of 2 (one padding row), validation on."""
    root = tmp_path_factory.mktemp("stateful_runs")
    data = panel_csv(root / "data.csv", (40, 33, 27, 19, 50), columns=("a",))
    for name, streaming in (("mem", False), ("stream", True)):
        cfg = write_yaml(root / f"{name}.yaml", stateful(stream_=streaming, epochs=3))
        cli("train", data, "-c", cfg, "-o", root / name, "--quiet")
    return {"root": root, "data": data, "mem": root / "mem", "stream": root / "stream"}


def test_streaming_train_rollout_and_predict_match_in_memory(runs, cli):
    """Through the CLI: the same windows in the same order (shuffle off), so the same
    weights, rollout and predict tables (intervals included), with no streaming notes."""
    from lstmcli.runs.bundle import load_bundle

    data, mem_run, stream_run = runs["data"], runs["mem"], runs["stream"]
    a, b = load_bundle(mem_run), load_bundle(stream_run)
    assert b.config.data.stream and not a.config.data.stream
    assert a.meta.last_ds == b.meta.last_ds and a.meta.freq == b.meta.freq
    weights_equal(mem_run, stream_run)
    mem = cli("rollout", data, "-m", mem_run, "-H", "4").stdout
    streamed = cli("rollout", data, "-m", stream_run, "-H", "4")
    assert "streaming" not in streamed.stderr
    pd.testing.assert_frame_equal(table(mem), table(streamed.stdout), atol=1e-5)
    # predict: every window, the same columns (intervals too) and rows
    mem = table(cli("predict", data, "-m", mem_run).stdout)
    assert any("_lo_" in c for c in mem.columns)
    out = runs["root"] / "preds.csv"
    doc = cli.json("predict", data, "-m", stream_run, "-o", out)
    assert doc["windows"] == len(mem)
    assert not any("streaming" in n for n in doc.get("notes", []))
    streamed = pd.read_csv(out)
    assert list(streamed.columns) == list(mem.columns)
    pd.testing.assert_frame_equal(mem, streamed, atol=1e-4)
    # --json without --out: the table in the JSON, as in memory
    mem_doc = cli.json("predict", data, "-m", mem_run)
    stream_doc = cli.json("predict", data, "-m", stream_run)
    assert stream_doc.keys() == mem_doc.keys() and stream_doc["windows"] == len(mem)
    # predict --last
    mem = cli("predict", data, "-m", mem_run, "--last").stdout
    result = cli("predict", data, "-m", stream_run, "--last")
    assert "streaming" not in result.stderr
    pd.testing.assert_frame_equal(table(mem), table(result.stdout), atol=1e-5)


def test_a_streamed_train_leaves_nothing_beside_the_run(runs, tmp_path, cli):
    """The store (.RUN.store/ beside the run) is removed after training, and when the
    training fails: on a bad cell (while the CSV is read) or after the store is written."""
    assert runs["listing"] == ["long.csv", "mem", "mem.yaml", "stream", "stream.yaml"]
    assert sorted(p.name for p in runs["stream"].iterdir()) == \
        sorted(p.name for p in runs["mem"].iterdir())
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "data": {"stream": True}})
    data = long_csv(tmp_path / "bad.csv")
    lines = data.read_text().splitlines()
    lines[30] = lines[30].rsplit(",", 1)[0] + ",oops"
    data.write_text("\n".join(lines) + "\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("train", data, "-c", cfg, "-o", tmp_path / "run", code=4)
    assert "line 31: column 'y' has a non-numeric value 'oops'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    short = long_csv(tmp_path / "short.csv", lengths=(5, 4))  # read, stored, then refused
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("train", short, "-c", cfg, "-o", tmp_path / "run", code=4)
    assert "no series is long enough to train on" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_streamed_train_interrupted_leaves_no_store(runs, tmp_path, cli, monkeypatch):
    from lstmcli.training import fit as train

    def interrupted(*args, **kwargs):
        stores = list(tmp_path.glob(".*.store"))
        assert [p.name for p in stores] == [".run.store"]  # there while it trains
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", interrupted)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "data": {"stream": True}})
    cli("train", runs["data"], "-c", cfg, "-o", tmp_path / "run", code=130)
    assert not list(tmp_path.glob(".*.store")) and not (tmp_path / "run").exists()


def test_predict_and_rollout_of_a_streamed_run_leave_no_store(runs, cli, tmp_path,
                                                              monkeypatch):
    """predict and rollout keep their store in a temporary directory, gone after."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    cli("predict", runs["data"], "-m", runs["stream"], "-o", tmp_path / "p.csv", "--quiet")
    cli("rollout", runs["data"], "-m", runs["stream"], "-H", "3", "-o", tmp_path / "r.csv",
        "--quiet")
    gc.collect()
    assert not [p.name for p in temp.iterdir() if p.name.startswith("lstmcli-store-")]


def test_rollout_plot_of_a_streamed_run(runs, cli, tmp_path):
    png = tmp_path / "f.png"
    result = cli("rollout", runs["data"], "-m", runs["stream"], "-H", "3", "-o",
                 tmp_path / "f.csv", "--plot", png, "--plot-series", "s0,s2")
    assert f"wrote {png}\n" in result.stderr and png.read_bytes()[:4] == b"\x89PNG"
    mem = cli("rollout", runs["data"], "-m", runs["mem"], "-H", "3").stdout
    pd.testing.assert_frame_equal(table(mem), pd.read_csv(tmp_path / "f.csv"), atol=1e-5)


@pytest.mark.parametrize("mode", ["stateless", "stateful"])
def test_a_file_edited_while_training_does_not_matter(cli, runs, stateful_runs, tmp_path,
                                                      monkeypatch, mode):
    """The CSV is read once into the store: overwritten with other rows while the model
    trains, the run is that of the file as it was read (the in-memory run's weights)."""
    from lstmcli.training import fit as train

    ref = runs if mode == "stateless" else stateful_runs
    data = tmp_path / "data.csv"
    data.write_bytes(ref["data"].read_bytes())
    doc = yaml.safe_load((ref["stream"] / "config.yaml").read_text())
    fit = train.fit  # (api imports it when it trains)

    def edited(*args, **kwargs):
        data.write_text(data.read_text().replace(",", ",9", 5)[:-200])
        return fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", edited)
    cfg = write_yaml(tmp_path / "c.yaml", {k: doc[k] for k in ("data", "window", "model",
                                                               "training")})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    assert data.read_bytes() != ref["data"].read_bytes()
    weights_equal(ref["mem"], tmp_path / "run")
    assert not list(tmp_path.glob(".*.store"))


@pytest.mark.parametrize("mode", ["stateful", "stateless"])
def test_streamed_predict_with_unsorted_and_dropped_rows(tmp_path, cli, mode):
    """Rows out of time order are sorted (with a note) and data.missing: drop leaves gaps
    in the time stamps: streamed, the run trains as in memory, and predict writes each
    row's own stamp and the actual values as in the file, as the in-memory path does."""
    data = shuffled(with_gaps(panel_csv(tmp_path / "data.csv", (40, 33), columns=("a",)),
                              [5, 12, 50]))
    for name, streaming in (("mem", False), ("stream", True)):
        doc = stateful(stream_=streaming, missing="drop")
        if mode == "stateless":
            doc["training"] = {"batch_size": 4, "epochs": 1, "validation": 0.2, "seed": 3,
                               **FAST}
            doc["model"]["topology"] = "many_to_one"
        result = cli("train", data, "-c", write_yaml(tmp_path / f"{name}.yaml", doc),
                     "-o", tmp_path / name)
    assert "series 's0': rows were not in time order; sorted by 'ds'" in result.stderr
    weights_equal(tmp_path / "mem", tmp_path / "stream")
    mem = table(cli("predict", data, "-m", tmp_path / "mem").stdout)
    cli("predict", data, "-m", tmp_path / "stream", "-o", tmp_path / "p.csv", "--quiet")
    streamed = pd.read_csv(tmp_path / "p.csv")
    s0 = set(streamed.loc[streamed["unique_id"] == "s0", "ds"])
    assert "2024-01-07" in s0 and not s0 & {"2024-01-06", "2024-01-13"}  # dropped in s0
    assert list(streamed.columns) == list(mem.columns)
    forecast = [c for c in mem.columns if c.startswith("a_") and c != "a"]
    pd.testing.assert_frame_equal(mem.drop(columns=forecast), streamed.drop(columns=forecast))
    np.testing.assert_allclose(mem[forecast], streamed[forecast], atol=1e-5)


def test_stateful_streaming_train_rollout_predict_match_in_memory(stateful_runs, cli):
    """The same history and weights, rollout and predict (same rows, same order)."""
    from lstmcli.runs.bundle import load_bundle

    data, mem_run, stream_run = (stateful_runs[k] for k in ("data", "mem", "stream"))
    b = load_bundle(stream_run)
    assert b.config.data.stream and b.config.training.mode == "stateful"
    weights_equal(mem_run, stream_run)
    ha, hb = (pd.read_csv(r / "history.csv") for r in (mem_run, stream_run))
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-5)
    np.testing.assert_allclose(ha["val_loss"], hb["val_loss"], rtol=1e-5)

    mem = table(cli("rollout", data, "-m", mem_run, "-H", "6").stdout)
    result = cli("rollout", data, "-m", stream_run, "-H", "6")
    pd.testing.assert_frame_equal(mem, table(result.stdout), atol=1e-5)

    mem = table(cli("predict", data, "-m", mem_run).stdout)
    out = stateful_runs["root"] / "preds.csv"
    doc = cli.json("predict", data, "-m", stream_run, "-o", out)
    assert doc["mode"] == "stateful" and doc["windows"] == len(mem)
    pd.testing.assert_frame_equal(mem, pd.read_csv(out), atol=1e-4)
    mem = cli("predict", data, "-m", mem_run, "--last").stdout
    result = cli("predict", data, "-m", stream_run, "--last")
    pd.testing.assert_frame_equal(table(mem), table(result.stdout), atol=1e-5)


def train_both(cli, tmp_path, data, doc, *args):
    """Train `doc` in memory and streamed; the stderr of the streamed run."""
    out = None
    for name, streaming in (("mem", False), ("stream", True)):
        full = {**doc, "data": {**doc.get("data", {}), "stream": streaming},
                "training": {**doc["training"], **FAST, "epochs": 1}}
        cfg = write_yaml(tmp_path / f"{name}.yaml", full)
        out = cli("train", data, "-c", cfg, "-o", tmp_path / name, *args)
    weights_equal(tmp_path / "mem", tmp_path / "stream")
    return out.stderr


def test_streamed_training_fills_gaps_with_interpolate(tmp_path, cli):
    """Missing days become rows the policy fills, streamed as in memory (was refused)."""
    data = tmp_path / "data.csv"
    data.write_text("date,y\n2024-01-03,1\n2024-01-04,2\n2024-01-05,3\n2024-01-06,4\n"
                    "2024-01-07,5\n2024-01-10,8\n2024-01-11,9\n2024-01-12,10\n")
    stderr = train_both(cli, tmp_path, data, TINY, "--missing", "interpolate")
    assert ("2 missing time stamps in 1 gap at frequency 'D' (first: 2024-01-08, after line "
            "6); filled as rows by data.missing: interpolate") in stderr


def test_streamed_variable_length_training(tmp_path, cli):
    """window.look_back: null (one sample per series) trains streamed as in memory."""
    data = long_csv(tmp_path / "l.csv", lengths=(30, 25, 20))
    doc = {**TINY, "window": {"look_back": None},
           "model": {"topology": "many_to_many", "layers": [{"units": 4}]}}
    train_both(cli, tmp_path, data, doc, "--quiet")
    mem = cli("rollout", data, "-m", tmp_path / "mem", "-H", "3").stdout
    streamed = cli("rollout", data, "-m", tmp_path / "stream", "-H", "3").stdout
    pd.testing.assert_frame_equal(table(mem), table(streamed), atol=1e-5)
