"""window.min_input: windows that start before their series, the missing steps repeating
its first row, so series shorter than look_back train and are forecast by the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import write_yaml
from lstmcli.config import DataSpec, config_from_dict
from lstmcli.data.read import read_series
from lstmcli.errors import ConfigError
from lstmcli.forecast import intervals
from lstmcli.training.layouts import split_windows
from lstmcli.training.windows import edge_padded

LENGTHS = (40, 30, 12, 8, 4)  # look_back 12, min_input 4, horizon 3, validation 3
DOC = {"data": {"scaling": "mean", "scale_per_series": True},
       "window": {"look_back": 12, "horizon": 3, "min_input": 4},
       "model": {"topology": "direct", "layers": [{"units": 4}], "normalize": "window",
                 "residual": "last_value"},
       "training": {"epochs": 2, "batch_size": 8, "validation": 3, "seed": 1,
                    "interval_steps": 3}}


def _csv(path):
    frames = []
    for k, n in enumerate(LENGTHS):
        frames.append(pd.DataFrame({
            "unique_id": f"s{k}", "ds": pd.date_range("2020-01-01", periods=n, freq="MS"),
            "y": 10.0 * (k + 1) + np.arange(n)}))  # each series starts at 10 (k + 1)
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_edge_padded_repeats_the_first_row():
    rows = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert edge_padded(rows, 4).tolist() == [[1, 2], [1, 2], [1, 2], [3, 4]]
    assert edge_padded(rows, 2) is rows and edge_padded(rows, 1) is rows


@pytest.mark.parametrize("change, key", [
    ({"window": {"look_back": 4, "horizon": 3, "min_input": 5}}, "at most window.look_back"),
    ({"model": {"topology": "many_to_many", "layers": [{"units": 4}]},
      "window": {"look_back": 6, "min_input": 2}}, "one forecast per window"),
    ({"training": {"mode": "stateful", "batch_size": 1},
      "model": {"layers": [{"units": 4}]}, "window": {"look_back": 6, "min_input": 2}},
     "stateless"),
])
def test_min_input_is_refused_where_it_cannot_work(change, key):
    with pytest.raises(ConfigError, match=key):
        config_from_dict({**DOC, **change})


def test_windows_start_before_the_series(tmp_path):
    """Every series with min_input + horizon training rows trains; a window starting before
    its series sees the first value repeated there."""
    frame = read_series(_csv(tmp_path / "d.csv"), DataSpec())
    config = config_from_dict(DOC)
    scaler, data, notes = split_windows(frame, config)
    # training rows n - 3, at least min_input + horizon = 7; with 8 rows of padding in front,
    # n_train + 8 - look_back - horizon + 1 = n - 9 windows
    assert data.n_train == sum(n - 9 for n in LENGTHS[:3]) and notes == [
        "series 's3' skipped: 8 rows, of which 5 for training; at least 7 needed",
        "series 's4' skipped: 4 rows, of which 1 for training; at least 7 needed"]
    firsts = [x[:, 0] for x, _ in data.x.unbatch().as_numpy_iterator()]
    # many short series (a collection can skip hundreds): one note naming the first 10
    from lstmcli.training.layouts import usable_series

    many = pd.concat([pd.DataFrame({"unique_id": f"t{k:02d}", "ds": pd.date_range(
        "2020-01-01", periods=n, freq="MS"), "y": 1.0 + np.arange(n)})
        for k, n in enumerate([40] + [8] * 12)])
    many.to_csv(tmp_path / "many.csv", index=False)
    _, notes = usable_series(read_series(tmp_path / "many.csv", DataSpec()), config, 7)
    assert notes == ["12 series skipped, fewer than 7 training rows after the validation "
                     "tail: " + ", ".join(f"'t{k:02d}' (8 rows, 5 for training)"
                                          for k in range(1, 11)) + " and 2 more"]
    # the window from the very start of s2 (12 rows, from 30): 8 padded steps and its first
    s2 = scaler.of("s2").transform(np.array([[30.0]]))[0, 0]
    assert sum(np.allclose(f[:9], s2) and not np.isclose(f[9], s2) for f in firsts) == 1
    assert data.n_val == 3  # one window per trained series: its whole validation tail


def test_short_series_are_forecast_by_the_model(tmp_path, cli):
    data = _csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", DOC)
    cli("train", data, "-c", cfg, "-o", tmp_path / "run")
    out = cli("rollout", data, "-m", tmp_path / "run", "-H", "3", "-o", tmp_path / "f.csv")
    # only s4 (4 rows, below min_input + horizon for training but not below min_input) ...
    table = pd.read_csv(tmp_path / "f.csv")
    assert sorted(table.unique_id.unique()) == [f"s{k}" for k in range(5)]
    assert not table.isna().any().any()
    assert "shorter than" not in out.stderr  # every series has min_input rows
    pred = cli("predict", data, "-m", tmp_path / "run", "-o", tmp_path / "p.csv")
    table = pd.read_csv(tmp_path / "p.csv")
    # every window with min_input rows of its own and known targets: n - 4 - 3 + 1 each
    counts = table.groupby("unique_id").origin.nunique().to_dict()
    assert counts == {f"s{k}": n - 4 - 3 + 1 for k, n in enumerate(LENGTHS) if n >= 7}
    first = table[table.unique_id == "s2"].ds.min()
    assert first == "2020-05-01"  # rows 0..3 are s2's first input: the first forecast is row 4
    assert "skipped" not in pred.stderr


def test_series_shorter_than_min_input_get_the_baseline(tmp_path, cli):
    data = _csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", {**DOC, "window": {**DOC["window"], "min_input": 6}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run")
    out = cli("rollout", data, "-m", tmp_path / "run", "-H", "3", "-o", tmp_path / "f.csv")
    assert "1 series shorter than window.min_input 6" in out.stderr and "'s4'" in out.stderr
    assert len(pd.read_csv(tmp_path / "f.csv")) == 5 * 3


def test_intervals_calibrate_on_origins_of_short_series():
    """Origins need min_input rows before them, not look_back."""
    rows = np.arange(10.0)[:, None]

    class Unit:
        scale = np.ones(1)

    series = [(lambda a, b: rows[a:b], 10, 7, Unit())]
    assert intervals._origins(series, before=4) == [(0, 7), (0, 8), (0, 9)]
    assert intervals._origins(series, before=8) == [(0, 8), (0, 9)]


def test_window_shows_the_padded_windows(tmp_path, cli):
    """`lstmcli window` cuts what training cuts: windows from min_input rows of a series
    on, the first value repeated before it (here every series' windows, no tail held out)."""
    data = _csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", DOC)
    cli("window", data, "-c", cfg, "-o", tmp_path / "w.npz")
    saved = np.load(tmp_path / "w.npz")
    # n + 8 padded rows give n + 8 - 12 - 3 + 1 = n - 6 windows; s4 (4 rows) none
    assert saved["X"].shape == (sum(n - 6 for n in LENGTHS[:4]), 12, 1)
    first = saved["X"][0, :, 0]  # s0 from its first row on: 8 copies of 10, then 10..13
    assert first.tolist() == [10.0] * 9 + [11.0, 12.0, 13.0]
