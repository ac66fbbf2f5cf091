"""Stateful training on a stream: the batches of `layouts.stateful_layout`, bit for bit and in
the same order, read in strict time order with one reader per batch row (or one pass per row
group when the file does not allow it); and through the CLI, train, rollout and predict equal
the in-memory run."""

import io

import numpy as np
import pandas as pd
import pytest
from test_stream import panel_csv

from conftest import write_yaml
from lstmcli import layouts, lockstep, stream
from lstmcli.config import config_from_dict
from lstmcli.data import read_series

CHUNK = 7  # rows per chunk of the scan and the scaler's pass


def stateful(*, batch_size=2, chunk_length=5, topology="many_to_many", missing="error",
             validation=0.2, stream_=False, epochs=1, features=None):
    return {"data": {"scaling": "standard", "missing": missing, "stream": stream_,
                     **({"features": features} if features else {})},
            "window": {"look_back": chunk_length},
            "model": {"topology": topology, "layers": [{"type": "lstm", "units": 4}]},
            "training": {"mode": "stateful", "batch_size": batch_size,
                         "chunk_length": chunk_length, "epochs": epochs,
                         "validation": validation, "seed": 3}}


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


CASES = {  # name: (make the file, config keys, how the rows are read)
    "sorted-by-series": (lambda p: panel_csv(p), {}, "own reader"),
    "sorted-by-time": (lambda p: panel_csv(p, interleave=True), {}, "one pass"),
    "groups-and-padding-rows": (lambda p: panel_csv(p, (40, 33, 27, 19, 50)),
                                {"batch_size": 2}, "own reader"),
    "one-series-in-segments": (lambda p: panel_csv(p, (61,)), {"batch_size": 3},
                               "own reader"),
    "segments-with-dropped-rows": (lambda p: with_gaps(panel_csv(p, (61,)), [3, 30, 44]),
                                   {"batch_size": 3, "missing": "drop"}, "own reader"),
    "series-with-dropped-rows": (lambda p: with_gaps(panel_csv(p), [5, 50]),
                                 {"missing": "drop"}, "own reader"),
    "blank-lines": (lambda p: with_blank_lines(panel_csv(p)), {}, "own reader"),
    "quoted-line-break": (lambda p: with_quoted_line_break(panel_csv(p)),
                          {"features": ["a", "b"]}, "one pass"),
    "many-to-one": (lambda p: panel_csv(p), {"topology": "many_to_one"}, "own reader"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_batches_equal_the_in_memory_layout(tmp_path, name):
    """Equal to the in-memory layout, whose row-continuity test_stateful.py proves."""
    make, keys, how = CASES[name]
    path = make(tmp_path / "data.csv")
    cfg = config_from_dict(stateful(**keys))
    frame = read_series(path, cfg.data)
    scaler, mem, mem_notes = layouts.stateful_layout(frame, layouts.resolved(cfg, frame))
    _, s_scaler, data, notes = stream.stream_layout(path, cfg, chunk_rows=CHUNK)
    np.testing.assert_allclose(s_scaler.shift, scaler.shift, rtol=1e-12)
    batches = list(data.x.as_numpy_iterator())
    assert len(batches) == data.x.cardinality().numpy() == len(mem.x) // cfg.training.batch_size
    x, y, w = (np.concatenate(a) for a in zip(*batches, strict=True))
    np.testing.assert_array_equal(x, mem.x)  # float32 of the same scaled values
    np.testing.assert_array_equal(y, mem.y)
    np.testing.assert_array_equal(w, mem.sample_weight)
    assert (data.n_train, data.x_shape, data.y_shape) == (mem.n_train, mem.x_shape, mem.y_shape)
    assert [n for n in mem_notes if "stateful layout" in n or "segments" in n] == \
        [n for n in notes if "stateful layout" in n or "segments" in n]
    assert any(how in n for n in notes if n.startswith("streaming"))
    if name == "sorted-by-time":  # 3 series in 2 row groups: the file is read twice per epoch
        assert "2 row groups read in one pass each: every epoch reads the file 2 times (and " \
            "as often again to validate)" in " ".join(notes)


@pytest.mark.parametrize("block", [3, lockstep.SCAN_BYTES])  # lines across reads
def test_line_starts(tmp_path, monkeypatch, block):
    monkeypatch.setattr(lockstep, "SCAN_BYTES", block)
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n30,40\n5,6")  # no final newline
    starts = lockstep.line_starts(path, [0, 1, 2], n_rows=3)
    assert starts == {0: 4, 1: 8, 2: 14}
    assert path.read_bytes()[starts[2]:] == b"5,6"
    path.write_bytes(b'a,b\n1,"x\ny"\n3,4\n')  # a quoted line break: lines are not rows
    assert lockstep.line_starts(path, [1], n_rows=2) is None
    path.write_bytes(b"\r\na,b\r\n1,2\r\n\r\n30,40\r\n5,6\r\n\r\n")  # blank lines, CRLF
    starts = lockstep.line_starts(path, [0, 1, 2], n_rows=3)
    assert [path.read_bytes()[starts[r]:][:3] for r in range(3)] == [b"1,2", b"30,", b"5,6"]


def test_a_series_that_changed_after_the_scan_is_reported(tmp_path):
    from lstmcli.errors import DataError

    path = panel_csv(tmp_path / "data.csv")
    cfg = config_from_dict(stateful())
    _, _, data, _ = stream.stream_layout(path, cfg, chunk_rows=CHUNK)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-10]) + "\n")  # the last series lost training rows
    with pytest.raises(DataError, match="the file changed while lstmcli was reading it"), \
            stream.generator_errors():
        list(data.x.as_numpy_iterator())


@pytest.mark.parametrize("when", ["after the scan", "during the epochs"])
@pytest.mark.parametrize("mode", ["stateful", "stateless"])
def test_train_refuses_a_file_that_changes_while_it_is_read(tmp_path, cli, monkeypatch, when,
                                                            mode):
    """Every epoch reads the file again: an edit (here: the same bytes written again, so
    only the modification time changes) must not give a run trained on two files."""
    import os

    from lstmcli import train

    data = panel_csv(tmp_path / "data.csv")
    doc = stateful(stream_=True, epochs=2)
    if mode == "stateless":
        doc["training"] = {"batch_size": 4, "epochs": 2, "validation": 0.2, "seed": 3}
        doc["model"]["topology"] = "many_to_one"

    def touch():
        st = os.stat(data)
        os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    if when == "after the scan":
        scan = stream.scan
        monkeypatch.setattr(stream, "scan", lambda *a, **k: (scan(*a, **k), touch())[0])
    else:
        fit = train.fit  # (api imports it when it trains)
        monkeypatch.setattr(train, "fit", lambda *a, **k: (fit(*a, **k), touch())[0])
    result = cli("train", data, "-c", write_yaml(tmp_path / "c.yaml", doc),
                 "-o", tmp_path / "run", code=4)
    # (the notes known before training are printed before it)
    lines = [x for x in result.stderr.splitlines() if not x.startswith(("epoch ", "note: "))]
    assert len(lines) == 1 and "the file changed while lstmcli was reading it" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("mode", ["stateful", "stateless"])
def test_streamed_predict_with_dropped_rows_keeps_time_stamps_and_values(tmp_path, cli, mode):
    """data.missing: drop leaves gaps in the time stamps: streaming predict writes each
    row's own stamp and the actual values as in the file, as the in-memory path does."""
    data = with_gaps(panel_csv(tmp_path / "data.csv", (40, 33), columns=("a",)), [5, 12, 50])
    for name, streaming in (("mem", False), ("stream", True)):
        doc = stateful(stream_=streaming, missing="drop")
        if mode == "stateless":
            doc["training"] = {"batch_size": 4, "epochs": 1, "validation": 0.2, "seed": 3}
            doc["model"]["topology"] = "many_to_one"
        cli("train", data, "-c", write_yaml(tmp_path / f"{name}.yaml", doc),
            "-o", tmp_path / name, "--quiet")
    mem = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "mem").stdout))
    cli("predict", data, "-m", tmp_path / "stream", "-o", tmp_path / "p.csv", "--quiet")
    streamed = pd.read_csv(tmp_path / "p.csv")
    s0 = set(streamed.loc[streamed["unique_id"] == "s0", "ds"])
    assert "2024-01-07" in s0 and not s0 & {"2024-01-06", "2024-01-13"}  # dropped in s0
    mem = mem[streamed.columns]  # streamed runs have no intervals (a note says why)
    pd.testing.assert_frame_equal(mem.drop(columns="a_forecast"),
                                  streamed.drop(columns="a_forecast"))
    np.testing.assert_allclose(mem["a_forecast"], streamed["a_forecast"], atol=1e-5)


def test_stateful_streaming_train_rollout_predict_match_in_memory(tmp_path, cli, monkeypatch):
    """Through the CLI, 5 series in 3 row groups of 2 (one padding row), validation on:
    the same history and weights, rollout and predict (same rows, same order). The streamed
    histories go through the twin in blocks of 7 steps (the in-memory path: all at once),
    so every block boundary is crossed."""
    from lstmcli import stateful_stream
    from lstmcli.bundle import load_bundle

    monkeypatch.setattr(stateful_stream, "STEP_BLOCK", 7)
    data = panel_csv(tmp_path / "data.csv", (40, 33, 27, 19, 50), columns=("a",))
    for name, streaming in (("mem", False), ("stream", True)):
        cfg = write_yaml(tmp_path / f"{name}.yaml", stateful(stream_=streaming, epochs=3))
        cli("train", data, "-c", cfg, "-o", tmp_path / name, "--quiet")
    a, b = load_bundle(tmp_path / "mem"), load_bundle(tmp_path / "stream")
    assert b.config.data.stream and b.config.training.mode == "stateful"
    for x, y in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
    ha = pd.read_csv(tmp_path / "mem" / "history.csv")
    hb = pd.read_csv(tmp_path / "stream" / "history.csv")
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-5)
    np.testing.assert_allclose(ha["val_loss"], hb["val_loss"], rtol=1e-5)

    mem = pd.read_csv(io.StringIO(cli("rollout", data, "-m", tmp_path / "mem", "-H", "6").stdout))
    result = cli("rollout", data, "-m", tmp_path / "stream", "-H", "6")
    assert "whole history warmed the state up" in result.stderr
    pd.testing.assert_frame_equal(mem, pd.read_csv(io.StringIO(result.stdout)), atol=1e-5)

    mem = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "mem").stdout))
    out = tmp_path / "preds.csv"
    doc = cli.json("predict", data, "-m", tmp_path / "stream", "-o", out)
    assert doc["streamed"] and doc["mode"] == "stateful" and doc["windows"] == len(mem)
    pd.testing.assert_frame_equal(mem, pd.read_csv(out), atol=1e-4)
    mem = cli("predict", data, "-m", tmp_path / "mem", "--last").stdout
    result = cli("predict", data, "-m", tmp_path / "stream", "--last")
    assert "whole history warmed the state up" in result.stderr
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(mem)),
                                  pd.read_csv(io.StringIO(result.stdout)), atol=1e-5)
