"""Reading CSVs: both layouts, time handling, frequency, missing values, clear errors."""

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, long_csv, wide_csv
from lstmcli.config import DataSpec
from lstmcli.data import future_index, read_series
from lstmcli.errors import DataError


def test_wide_defaults(tmp_path):
    frame = read_series(wide_csv(tmp_path / "w.csv", columns=("a", "b")), DataSpec())
    assert frame.time_col == "date" and frame.series_col is None and frame.freq == "D"
    assert frame.features == ["a", "b"] and frame.targets == ["a", "b"]
    assert len(frame.series) == 1 and frame.series[0].values.shape == (40, 2)


def test_long_format_splits_series(tmp_path):
    frame = read_series(long_csv(tmp_path / "l.csv"), DataSpec())
    assert frame.is_long and [s.id for s in frame.series] == ["s0", "s1", "s2"]
    assert [len(s.values) for s in frame.series] == [30, 25, 20]
    assert frame.features == ["y"] and frame.freq == "D"


def test_targets_not_in_features_become_extra_columns(tmp_path):
    path = wide_csv(tmp_path / "w.csv", columns=("a", "b", "c"))
    frame = read_series(path, DataSpec(features=["a", "b"], targets=["c"]))
    assert frame.columns == ["a", "b", "c"] and frame.target_idx == [2]


def test_sample_data_monthly_frequency():
    frame = read_series(REPO / "sample_data" / "airline_passengers.csv", DataSpec(time="Month"))
    assert frame.freq == "MS" and frame.series[0].values.sum() == 40363
    stamps = future_index(frame.series[0].ds[-1], frame.freq, 3)
    assert [str(d.date()) for d in stamps] == ["1961-01-01", "1961-02-01", "1961-03-01"]


def test_no_time_column_uses_steps(tmp_path):
    path = tmp_path / "steps.csv"
    pd.DataFrame({"v": np.arange(10.0)}).to_csv(path, index=False)
    frame = read_series(path, DataSpec())
    assert frame.time_col is None and frame.freq == 1
    assert list(future_index(frame.series[0].ds[-1], frame.freq, 2)) == [10, 11]


def test_unsorted_rows_are_sorted_and_reported(tmp_path):
    path = wide_csv(tmp_path / "w.csv", n=10)
    df = pd.read_csv(path)
    df.iloc[::-1].to_csv(path, index=False)
    frame = read_series(path, DataSpec())
    assert frame.series[0].ds.is_monotonic_increasing
    np.testing.assert_array_equal(frame.series[0].values[:, 0], df["y"].to_numpy())
    assert any("not in time order" in n for n in frame.notes)


def test_semicolon_and_bom(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_bytes("\ufeffdate;y\n2024-01-01;1\n2024-01-02;2\n2024-01-03;3\n".encode())
    frame = read_series(path, DataSpec())
    assert frame.time_col == "date" and frame.series[0].values[:, 0].tolist() == [1, 2, 3]


@pytest.mark.parametrize("policy, expected", [
    ("interpolate", [1.0, 2.0, 3.0, 4.0]),
    ("ffill", [1.0, 1.0, 3.0, 4.0]),
    ("drop", [1.0, 3.0, 4.0]),
])
def test_missing_value_policies(tmp_path, policy, expected):
    path = tmp_path / "gap.csv"
    path.write_text("date,y\n2024-01-01,1\n2024-01-02,\n2024-01-03,3\n2024-01-04,4\n")
    frame = read_series(path, DataSpec(missing=policy))
    assert frame.series[0].values[:, 0].tolist() == expected
    assert frame.freq == "D"  # inferred before rows are dropped


@pytest.mark.parametrize("text, spec, fragment", [
    ("", {}, "the file is empty"),
    ("date,y\n", {}, "header but no data rows"),
    ("date,y\n2024-01-01,1\n2024-01-02,\n", {}, "line 3: missing value in column 'y'"),
    ("date,y\n2024-01-01,1\n2024-01-02,abc\n", {}, "line 3: column 'y' has a non-numeric value"),
    ("date,y\n2024-01-01,1\n2024-01-01,2\n", {}, "line 3: duplicate timestamp"),
    ("date,y\n2024-01-01,1\nyesterday,2\n", {}, "line 3: cannot parse timestamp 'yesterday'"),
    ("date,y\n2024-01-01,1\n2024-01-02,inf\n", {}, "line 3: column 'y' has an infinite value"),
    ("date,y\n2024-01-01,1\n", {"features": ["z"]}, "column(s) ['z'] not found"),
    ("date,y\n2024-01-01,1\n", {"time": "when"}, "time column 'when' (data.time) not found"),
])
def test_bad_input_is_named(tmp_path, text, spec, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_series(path, DataSpec(**spec))
    assert str(err.value).startswith(str(path)) and fragment in str(err.value)


def test_chunked_reading_gives_the_same_frame_and_true_line_numbers(tmp_path, monkeypatch):
    import lstmcli.data as data_mod

    path = long_csv(tmp_path / "l.csv", lengths=(30, 25, 20))
    whole = read_series(path, DataSpec())
    monkeypatch.setattr(data_mod, "CHUNK_ROWS", 7)
    chunked = read_series(path, DataSpec())
    assert [s.id for s in chunked.series] == [s.id for s in whole.series]
    for a, b in zip(chunked.series, whole.series, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
        assert a.ds.equals(b.ds)
    lines = path.read_text().splitlines()
    lines[60] = lines[60].replace("2024-", "24/")  # data row 59, in the 9th chunk
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 61: cannot parse timestamp '24/"):
        read_series(path, DataSpec())
