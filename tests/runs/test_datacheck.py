"""Data a run was not trained on (lstmcli/runs/datacheck.py): another frequency or a missing
column is an error, values far outside the training range and unseen series are notes;
the output columns of predict (lstmcli/forecast/columns.py), its origin and its intervals."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from conftest import wide_csv
from lstmcli.data.scaling import Scaler
from lstmcli.runs import datacheck

# ------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize("a, b, same", [
    ("D", "D", True), ("W-SUN", "W-MON", True), ("MS", "ME", True), ("h", "60min", True),
    ("QS-JAN", "QE-DEC", True), ("D", "W-SUN", False), ("D", "B", False),
    ("h", "15min", False), ("MS", "QS-JAN", False), (1, 1, True), (1, 7, False),
    ("D", 1, True), (None, "D", True),
])
def test_frequencies_compare_by_their_step(a, b, same):
    assert datacheck.same_freq(a, b) is same


def test_frequencies_in_words():
    assert datacheck.freq_words("W-SUN") == "weekly (W-SUN)"
    assert datacheck.freq_words("D") == "daily (D)"
    assert datacheck.freq_words("2W-SUN") == "every 2 weeks (2W-SUN)"
    assert datacheck.freq_words("15min") == "every 15 minutes (15min)"
    assert datacheck.freq_words(7) == "every 7 steps"


def test_range_notes_name_the_series_column_and_how_far():
    rows = {"a": np.array([[100.0, 0.0], [300.0, 0.0]]), "b": np.array([[200.0, 0.0]])}
    ranges = datacheck.ranges_of(["sales", "promo"], rows, per_series=False)
    assert ranges == {"columns": ["sales", "promo"], "min": [100.0, 0.0], "max": [300.0, 0.0]}

    def notes(values, label="series"):
        return datacheck.range_notes(ranges, ["sales", "promo"], values, series_label=label,
                                     what="the rows read")

    assert notes([("a", np.array([[50.0, 0.0], [500.0, 0.0]]))]) == []  # within one range
    [note] = notes([("a", np.array([[900.0, 0.0]])), ("b", np.array([[1200.0, 0.0]]))])
    assert note.startswith("series 'b', column 'sales': the rows read reach 1200, 4.0x the "
                           "largest value seen in training (300) (1 more series also")
    assert notes([("a", np.array([[10.0, 0.0]]))]) == []  # 1/10 of the smallest, but near
    [note] = notes([("a", np.array([[-500.0, 0.0]]))], label=None)  # a wide file: no series
    assert note.startswith("column 'sales': the rows read fall to -500, 3.0 training ranges "
                           "below the smallest value seen in training (100; range 100 to 300)")
    [note] = notes([("a", np.array([[200.0, 1.0]]))])  # a flag that was never set
    assert "column 'promo': the rows read take values from 1 to 1; in training it was always 0" \
        in note
    level = datacheck.ranges_of(["y"], {"a": np.array([[1000.0], [1100.0]])}, per_series=False)
    [note] = datacheck.range_notes(level, ["y"], [("a", np.array([[400.0]]))],
                                   series_label=None, what="the rows read")
    assert "fall to 400, 1/2.5 of the smallest value seen in training (1000)" in note
    assert datacheck.range_notes(None, ["sales"], [("a", np.ones((1, 1)) * 1e9)],
                                 series_label=None, what="x") == []  # an older run


def test_per_series_ranges_and_series_never_seen():
    rows = {"a": np.array([[10.0], [12.0]]), "b": np.array([[1000.0], [1100.0]])}
    ranges = datacheck.ranges_of(["y"], rows, per_series=True)
    assert ranges["series"]["a"] == {"min": [10.0], "max": [12.0]}
    seen = [("a", np.array([[40.0]])), ("b", np.array([[1050.0]])), ("c", np.array([[5e5]]))]
    [note] = datacheck.range_notes(ranges, ["y"], seen, series_label="series", what="x")
    assert note.startswith("series 'a', column 'y': x reach 40, 3.3x the largest value of this "
                           "series in training (12)")  # 'c' was never seen: no range of its own
    scaler = Scaler.fit_per_series("minmax", ["y"], rows)
    assert datacheck.unseen_series(["a", "c"], scaler) == ["c"]
    assert datacheck.unseen_series(["c"], Scaler.fit("minmax", ["y"], rows["a"])) == []
    c = np.array([[500.0], [700.0]])
    own = datacheck.with_own_scalers(scaler, {"c": c}).of("c")
    np.testing.assert_allclose(own.transform(c)[:, 0], [0.0, 1.0])  # its own level
    assert "1 series not in the training data ('c')" in datacheck.unseen_note(["c"], "d.csv")


def test_bounds_and_forecasts_stop_at_zero_for_a_series_never_negative():
    from lstmcli.forecast.predict import _bounded
    from lstmcli.runs.rundata import _floor

    floor = _floor(np.array([[0.0, -1.0], [2.0, 3.0]]))  # target 0 never negative
    p = np.array([[-0.5, -0.5], [1.0, 1.0]])
    offsets = {80: (np.array([[-1.0, -1.0], [-2.0, -2.0]]), np.array([[1.0, 1.0], [2.0, 2.0]]))}
    got, bands = _bounded(p, floor, offsets)
    np.testing.assert_array_equal(got, [[0.0, -0.5], [1.0, 1.0]])
    np.testing.assert_array_equal(bands[80][0], [[0.0, -1.5], [0.0, -1.0]])
    np.testing.assert_array_equal(bands[80][1], [[1.0, 0.5], [3.0, 3.0]])


# --------------------------------------------------------------- through the commands


def test_training_records_the_ranges_it_read(trained):
    meta = json.loads((trained["run"] / "bundle.json").read_text())
    y = pd.read_csv(trained["data"])["y"]
    assert meta["ranges"] == {"columns": ["y"], "min": [y.min()], "max": [y.max()]}


@pytest.mark.parametrize("command", [["predict"], ["rollout", "-H", "2"],
                                     ["evaluate", "-H", "3"]])
def test_data_of_another_frequency_is_refused(cli, trained, tmp_path, command):
    weekly = wide_csv(tmp_path / "weekly.csv", freq="W-SUN")  # same column, same values
    out = tmp_path / "out.csv"
    result = cli(command[0], weekly, "-m", trained["run"], *command[1:], "-o", out, code=4)
    assert (f"error: {weekly}: time stamps are weekly (W-SUN) but run {trained['run']} was "
            "trained on daily (D) data; give it data at the frequency it was trained on "
            "(resample or aggregate it), or train a run on this data") in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == "" and not out.exists()


def test_a_missing_column_is_named(cli, trained, tmp_path):
    data = wide_csv(tmp_path / "z.csv", columns=("z",))
    result = cli("rollout", data, "-m", trained["run"], "-H", "2", code=4)
    assert result.stderr.startswith(f"error: {data}: column 'y' is missing: run "
                                    f"{trained['run']} was trained with it as a feature")
    assert "the file's columns are ['date', 'z']" in result.stderr


def test_values_far_outside_the_training_range_get_a_note(cli, trained, tmp_path):
    raw = pd.read_csv(trained["data"])
    plain = cli("rollout", trained["data"], "-m", trained["run"], "-H", "2")
    assert "training range" not in plain.stderr and "seen in training" not in plain.stderr
    raw.assign(y=raw["y"] * 6).to_csv(tmp_path / "x6.csv", index=False)
    doc = cli.json("rollout", tmp_path / "x6.csv", "-m", trained["run"], "-H", "2")
    top = json.loads((trained["run"] / "bundle.json").read_text())["ranges"]["max"][0]
    tail = (raw["y"] * 6).iloc[-4:].max()  # look_back 4: the rows the forecast reads
    expected = (f"column 'y': the last 4 rows (the forecast's inputs) reach {tail:.4g}, "
                f"{tail / top:.1f}x the largest value seen in training ({top:.4g})")
    assert any(n.startswith(expected) for n in doc["notes"]), doc["notes"]


def test_predict_has_the_intervals_of_rollout(cli, trained):
    """One step ahead, predict --last and rollout -H 1 are the same forecast: the same
    numbers, bounds included; every window's bounds lie the same offsets from it."""
    last = pd.read_csv(io.StringIO(cli("predict", trained["data"], "-m", trained["run"],
                                       "--last").stdout))
    roll = pd.read_csv(io.StringIO(cli("rollout", trained["data"], "-m", trained["run"],
                                       "-H", "1").stdout))
    pd.testing.assert_frame_equal(last, roll, atol=1e-5)
    table = pd.read_csv(io.StringIO(cli("predict", trained["data"], "-m",
                                        trained["run"]).stdout))
    for side in ("lo_80", "hi_80", "lo_95", "hi_95"):
        offset = table[f"y_{side}"] - table["y_forecast"]
        np.testing.assert_allclose(offset, (roll[f"y_{side}"] - roll["y_forecast"]).iloc[0],
                                   atol=1e-5)
    assert (table["y_lo_95"] <= table["y_lo_80"]).all()
    assert (table["y_hi_80"] <= table["y_hi_95"]).all()
