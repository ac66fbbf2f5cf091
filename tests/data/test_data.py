"""Reading CSVs: both layouts, time handling, frequency, missing values, clear errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, long_csv, wide_csv
from lstmcli.config import DataSpec
from lstmcli.data.read import future_index, read_series
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
    ("date,y\n2024-01-01,1\n", {"time": "when"},
     "time column 'when' of data.time (--time-col) not found"),
])
def test_bad_input_is_named(tmp_path, text, spec, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_series(path, DataSpec(**spec))
    assert str(err.value).startswith(str(path)) and fragment in str(err.value)


def test_chunked_reading_gives_the_same_frame_and_true_line_numbers(tmp_path, monkeypatch):
    import lstmcli.data.csvfile as data_mod

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


# ------------------------------------------------------------------------- data limits
# The reader refuses the same files with the same messages whether the series store is in
# memory or (data.stream) in files on disk; what it reads is the same, value for value.


def assert_same_series(got, want):
    """Two frames of the same file: the same ids, time stamps, values, columns and notes."""
    assert [s.id for s in got.series] == [s.id for s in want.series]
    for a, b in zip(got.series, want.series, strict=True):
        assert a.ds.dtype == b.ds.dtype and a.ds.equals(b.ds)
        assert np.array_equal(a.values, b.values, equal_nan=True)
    assert (got.columns, got.freq, got.notes) == (want.columns, want.freq, want.notes)


def _on_disk(path, spec):
    """read_series with the store in files (data.stream); checked against the in-memory
    read when the file is read."""
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="store-", dir=Path(path).parent))
    frame = read_series(path, spec, store_dir=directory)
    assert frame.store.on_disk
    assert_same_series(frame, read_series(path, spec))
    return frame


READERS = pytest.mark.parametrize("read", [read_series, _on_disk], ids=["memory", "stream"])


def _refused(read, path, spec=None) -> str:
    with pytest.raises(DataError) as err:
        read(path, spec or DataSpec())
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message and len(message) < 600
    return message


@READERS
@pytest.mark.parametrize("stamp", ["9999-01-03", "0001-01-03", "1677-09-21", "2262-04-12",
                                   "9999-01-03T00:00:00+01:00"])
def test_timestamps_outside_the_nanosecond_range_are_refused_not_wrapped(tmp_path, read, stamp):
    path = tmp_path / "far.csv"
    rest = stamp[10:]  # the same format on every line
    path.write_text(f"date,y\n2024-01-01{rest},1\n2024-01-02{rest},2\n{stamp},3\n")
    message = _refused(read, path)
    assert f"line 4: timestamp '{stamp}' in column 'date' is outside the supported range " \
           "1677-09-21 00:12:44 .. 2262-04-11 23:47:16" in message


@READERS
def test_timestamps_at_the_edges_of_the_range_are_read(tmp_path, read):
    path = tmp_path / "edge.csv"
    path.write_text("date,y\n1677-09-22,1\n2000-01-01,2\n2262-04-11,3\n")
    frame = read(path, DataSpec())
    ds = frame.series[0].ds
    assert ds.dtype == "datetime64[ns]"
    assert [str(d.date()) for d in ds] == ["1677-09-22", "2000-01-01", "2262-04-11"]
    assert frame.series[0].values[:, 0].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("last, freq, steps", [("2262-01-01", "MS", 24), ("2262-04-01", "D", 24),
                                               ("2262-04-11 23:00", "h", 2)])
def test_forecast_stamps_past_2262_are_refused(last, freq, steps):
    with pytest.raises(DataError, match=f"cannot stamp {steps} forecast step.* would run past "
                                        "2262-04-11 23:47:16"):
        future_index(pd.Timestamp(last).as_unit("ns"), freq, steps)
    fits = future_index(pd.Timestamp("2262-01-01").as_unit("ns"), "MS", 3)
    assert fits.dtype == "datetime64[ns]" and str(fits[-1].date()) == "2262-04-01"


@READERS
@pytest.mark.parametrize("big", ["9223372036854775807", "9223372036854775808",
                                 "99999999999999999999", "-9223372036854775808",
                                 "4611686018427387904", "1" * 5000])
def test_integer_steps_that_could_overflow_are_refused(tmp_path, read, big):
    path = tmp_path / "steps.csv"
    path.write_text(f"ds,y\n1,1\n2,2\n{big},3\n")
    message = _refused(read, path)
    assert "line 4: time step " in message and "in column 'ds' is beyond ±4611686018427387904" \
        in message
    assert (big in message) == (len(big) <= 80)


def test_forecast_steps_past_2_to_62_are_refused():
    last = 2 ** 62 - 10
    assert list(future_index(last, 1, 9)) == [last + k for k in range(1, 10)]
    with pytest.raises(DataError, match=f"step {2 ** 62} would be beyond ±"):
        future_index(last, 1, 10)
    with pytest.raises(DataError, match="would be beyond ±"):
        future_index(-(2 ** 62) + 1, -1, 1)


@READERS
def test_ten_thousand_columns_read_in_seconds(tmp_path, read):
    import time

    n = 10_000
    path = tmp_path / "wide.csv"
    header = "date," + ",".join(f"c{j}" for j in range(n))
    rows = [f"2024-01-{d:02d}," + ",".join(str((d * 7 + j) % 13) for j in range(n))
            for d in range(1, 7)]
    path.write_text("\n".join([header, *rows]) + "\n")
    t0 = time.perf_counter()
    frame = read(path, DataSpec())
    took = time.perf_counter() - t0
    assert frame.features[-1] == f"c{n - 1}" and frame.feature_idx == list(range(n))
    assert frame.target_idx == list(range(n))
    assert frame.series[0].values.shape == (6, n)
    assert frame.series[0].values[5, n - 1] == (6 * 7 + n - 1) % 13
    assert took < 20  # about 1 s; looking each column up in a list took hours


def test_the_delimiter_is_sniffed_from_a_bounded_sample(tmp_path):
    from lstmcli.data.csvfile import SNIFF_BYTES, _sniff_delimiter

    n = SNIFF_BYTES // 40  # a header line longer than the sample
    path = tmp_path / "semi.csv"
    path.write_text("date;" + ";".join(f"{j:060d}" for j in range(n)) + "\n2024-01-01;"
                    + ";".join("1" for _ in range(n)) + "\n")
    assert path.stat().st_size > SNIFF_BYTES + 1000
    assert _sniff_delimiter(path) == ";"
    frame = read_series(path, DataSpec())
    assert frame.features[-1] == f"{n - 1:060d}" and frame.series[0].values.shape == (1, n)


@READERS
def test_a_header_line_longer_than_the_bound_is_refused(tmp_path, monkeypatch, read):
    import lstmcli.data.csvfile as data_mod

    monkeypatch.setattr(data_mod, "MAX_HEADER_BYTES", 1 << 12)
    path = tmp_path / "one_line.csv"
    path.write_text("1," * 5000)  # no line break at all
    message = _refused(read, path)
    assert "line 1 (the header) is longer than" in message and "without a line break" in message
    path.write_text("date,y\n2024-01-01,1\n2024-01-02," + "x" * 5000 + "\n")  # only line 1
    assert "line 3: column 'y' has a non-numeric value 'xxx" in _refused(read, path)


def test_a_header_line_of_some_megabytes_without_line_break_is_refused_quickly(tmp_path):
    import time

    path = tmp_path / "no_breaks.csv"
    path.write_bytes(b"12345678," * (1 << 20))  # 9 MiB, more than MAX_HEADER_BYTES
    t0 = time.perf_counter()
    message = _refused(read_series, path)
    assert "line 1 (the header) is longer than 4 MiB" in message
    assert time.perf_counter() - t0 < 5


LINE_ENDS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


@READERS
@pytest.mark.parametrize("ends", ["cr", "mixed"])
def test_cr_and_mixed_line_endings_read_like_lf(tmp_path, read, ends):
    lines = ["date,y"] + [f"2024-01-{d:02d},{d}" for d in range(1, 11)]
    seps = ["\r"] * 10 if ends == "cr" else ["\r\n", "\r", "\n", "\r", "\r\n"] * 2
    path, plain = tmp_path / f"{ends}.csv", tmp_path / "lf.csv"
    path.write_bytes("".join(a + b for a, b in zip(lines, seps + ["\r"], strict=True)).encode())
    plain.write_text("\n".join(lines) + "\n")
    got, want = read(path, DataSpec()), read(plain, DataSpec())
    assert_same_series(got, want)
    assert len(got.series[0]) == 10 and got.freq == "D"


@READERS
@pytest.mark.parametrize("ends", ["cr", "mixed"])
def test_line_numbers_count_every_kind_of_line_end(tmp_path, read, ends):
    seps = ["\r"] * 6 if ends == "cr" else ["\r\n", "\r", "\n", "\r", "\r\n", "\n"]
    lines = ["date,y", "2024-01-01,1", "2024-01-02,2", "2024-01-03,3", "2024-01-04,x",
             "2024-01-05,5"]
    path = tmp_path / "bad.csv"
    path.write_bytes("".join(a + b for a, b in zip(lines, seps, strict=True)).encode())
    assert "line 5: column 'y' has a non-numeric value 'x'" in _refused(read, path)
    path.write_bytes("".join(a + b for a, b in zip(lines, seps, strict=True))
                     .replace("x", "4").encode().replace(b"2024-01-04", b"2024-01-0\xff"))
    assert "line 5: byte 0xff is not UTF-8" in _refused(read, path)


def test_line_breaks_are_counted_across_blocks():
    import re

    from lstmcli.data.csvfile import _breaks

    rng = np.random.default_rng(0)
    for _ in range(500):
        data = bytes(rng.choice(list(b"ab\r\n"), size=int(rng.integers(0, 20))))
        cuts = sorted(int(c) for c in rng.integers(0, len(data) + 1, size=3))
        n, after_cr, prev = 0, False, 0
        for cut in [*cuts, len(data)]:
            block, prev = data[prev:cut], cut
            if block:
                n, after_cr = n + _breaks(block, after_cr), block.endswith(b"\r")
        assert n + after_cr == len(re.findall(rb"\r\n|\r|\n", data)), data


@READERS
def test_long_names_and_values_are_cut_in_messages(tmp_path, read):
    long = "n" * 1_000_000
    path = tmp_path / "long.csv"
    path.write_text(f"date,{long}\n2024-01-01,1\n")
    message = _refused(read, path, DataSpec(features=["z"]))
    assert "column(s) ['z'] not found" in message and "(1000000 characters)" in message
    path.write_text(f"date,y\n2024-01-01,1\n2024-01-02,{long}\n")
    message = _refused(read, path)
    assert "line 3: column 'y' has a non-numeric value 'nnn" in message
    assert message.endswith("... (1000000 characters)")
    path.write_text(f"date,y\n2024-01-01,1\n{long},2\n")
    assert "line 3: cannot parse timestamp 'nnn" in _refused(read, path)


@READERS
def test_line_breaks_in_quoted_values_stay_escaped_in_messages(tmp_path, read):
    path = tmp_path / "quoted.csv"
    path.write_text('date,y\n2024-01-01,1\n2024-01-02,"4\nabc"\n')
    assert r"line 3: column 'y' has a non-numeric value '4\nabc'" in _refused(read, path)
    path.write_text('date,"a\nb"\n2024-01-01,1\n')
    assert r"column(s) ['z'] not found" in _refused(read, path, DataSpec(features=["z"]))
    assert r"'a\nb'" in _refused(read, path, DataSpec(features=["z"]))
    path.write_text('date,"a\rb",c\n2024-01-01,x,y\n')
    assert r"column 'a\rb' holds text" in _refused(read, path)


def test_many_columns_are_listed_briefly(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("date," + ",".join(f"c{j}" for j in range(500)) + "\n2024-01-01"
                    + ",1" * 500 + "\n")
    message = _refused(read_series, path, DataSpec(features=["z"]))
    assert "columns are ['date', 'c0', " in message and "... (501 in all)]" in message
