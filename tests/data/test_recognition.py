"""What a file is, recognised from its data: long format without `unique_id`, time columns
by name or by their values, the frequency with gaps, missing time stamps; and the data
options (--target, --time-col, --id-col, --freq, --missing) of train, backtest and window."""

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, write_yaml
from lstmcli.config import DataSpec
from lstmcli.data import timegrid
from lstmcli.data.read import read_series
from lstmcli.data.recognition import recognise
from lstmcli.errors import DataError


def _on_disk(path, spec):
    """read_series with the store in files (data.stream); when the file is read, the same
    ids, stamps, values, columns and notes as the in-memory read."""
    directory = Path(tempfile.mkdtemp(prefix="store-", dir=Path(path).parent))
    frame = read_series(path, spec, store_dir=directory)
    assert frame.store.on_disk
    want = read_series(path, spec)
    assert [s.id for s in frame.series] == [s.id for s in want.series]
    for a, b in zip(frame.series, want.series, strict=True):
        assert a.ds.dtype == b.ds.dtype and a.ds.equals(b.ds)
        assert np.array_equal(a.values, b.values)
    assert (frame.columns, frame.freq, frame.notes, frame.time_col, frame.series_col) == \
        (want.columns, want.freq, want.notes, want.time_col, want.series_col)
    return frame


READERS = pytest.mark.parametrize("read", [read_series, _on_disk], ids=["memory", "stream"])


def stores_csv(path, lengths=(12, 9, 7), *, day="date", extra=None):
    """store,day,revenue: several stores of different lengths, daily, the store names text."""
    frames = []
    for k, n in enumerate(lengths):
        frame = pd.DataFrame({"store": f"shop_{k}",
                              "day": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d")
                              if day == "date" else np.arange(1, n + 1),
                              "revenue": 100.0 * (k + 1) + np.arange(n)})
        if extra:
            frame[extra] = frame["store"].str.replace("shop_", "Shop ")
        frames.append(frame)
    pd.concat(frames).to_csv(path, index=False)
    return path


def daily_with_gap(path, n=30, hole=range(10, 15)):
    """date,y: n days, y = day number, with the days in `hole` deleted."""
    stamps = pd.date_range("2024-01-01", periods=n)
    df = pd.DataFrame({"date": stamps.strftime("%Y-%m-%d"), "y": np.arange(n, dtype=float)})
    df.drop(index=list(hole)).to_csv(path, index=False)
    return path


def ns(index) -> np.ndarray:
    return pd.DatetimeIndex(index).as_unit("ns").asi8


# ------------------------------------------------------------------------ frequency


@pytest.mark.parametrize(("freq", "start"), [
    ("D", "2024-01-01"), ("h", "2024-01-01"), ("15min", "2024-01-01"), ("W-WED", "2024-01-03"),
    ("MS", "2000-01-01"), ("ME", "2000-01-31"), ("QS-JAN", "2000-01-01"),
    ("YE-DEC", "1900-12-31"), ("B", "2024-01-01")])
def test_the_frequency_is_inferred_through_gaps(freq, start):
    stamps = pd.date_range(start, periods=40, freq=freq)
    assert timegrid.infer(ns(stamps), "M") == freq  # regular: pandas' own alias
    holed = stamps.delete([5, 6, 7, 20])
    assert timegrid.infer(ns(holed), "M") == freq
    at = timegrid.places(ns(holed)[0], ns(holed)[1:], freq, "M")
    assert at.tolist() == [k for k in range(1, 40) if k not in (5, 6, 7, 20)]


def test_step_numbers_and_irregular_stamps():
    assert timegrid.infer(np.array([1990, 1991, 1993, 1994, 1995]), "i") == 1
    assert timegrid.infer(np.array([0, 5, 10, 20, 25]), "i") == 5
    # half the steps one day, half not: no frequency explains "most" steps
    days = ns(pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06",
                                "2024-01-10"]))
    assert timegrid.infer(days, "M") is None
    noon = ns(pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03 12:00",
                                "2024-01-04", "2024-01-05"]))
    assert timegrid.infer(noon, "M") is None  # a stamp between two days
    assert timegrid.places(noon[0], noon[1:], "D", "M").tolist() == [1, -1, 3, 4]


def test_business_days_with_holidays_are_business_days():
    days = pd.bdate_range("2024-01-01", periods=60).delete([4, 30])  # two holidays
    assert timegrid.infer(ns(days), "M") == "B"


def test_places_of_stamps_centuries_apart_do_not_overflow():
    first, last = pd.Timestamp("1700-01-01"), pd.Timestamp("2200-01-01")
    assert timegrid.places(first.value, np.array([last.value]), "D", "M").tolist() == [
        (last - first).days]


# ------------------------------------------------------------------------ columns


@READERS
def test_store_day_revenue_is_read_as_long_format(tmp_path, read):
    path = stores_csv(tmp_path / "sales.csv")
    frame = read(path, DataSpec())
    assert frame.series_col == "store" and frame.time_col == "day" and frame.freq == "D"
    assert [s.id for s in frame.series] == ["shop_0", "shop_1", "shop_2"]
    assert frame.features == ["revenue"]
    assert frame.notes == ["read as long format: series column 'store' (3 series), time column "
                           "'day'; set data.series (--id-col) to choose"]


@READERS
def test_integer_days_and_step_numbers(tmp_path, read):
    frame = read(stores_csv(tmp_path / "sales.csv", day="step"), DataSpec())
    assert frame.series_col == "store" and frame.time_col == "day" and frame.freq == 1


def test_two_columns_that_could_name_the_series_are_refused(tmp_path):
    path = stores_csv(tmp_path / "sales.csv", extra="name")
    header = ["store", "day", "revenue", "name"]
    with pytest.raises(DataError, match=re.escape(
            "columns ['store', 'name'] could each name the series of a long file (text "
            "repeating, one row per time stamp each); set data.series (--id-col) to the series "
            "column")):
        recognise(header, DataSpec(), path)
    keys = recognise(header, DataSpec(series="name"), path)
    assert (keys.series, keys.series_by, keys.time, keys.time_by) == ("name", "config", "day",
                                                                      "name")


def test_a_text_column_of_one_series_is_not_a_series_id(tmp_path):
    """A label on each row of one series (its time stamps do not repeat) stays unused."""
    path = tmp_path / "weather.csv"
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=12).strftime("%Y-%m-%d"),
                  "sky": ["sunny", "rain"] * 6, "t": np.arange(12.0)}).to_csv(path, index=False)
    frame = read_series(path, DataSpec())
    assert frame.series_col is None and frame.notes == ["column 'sky' is not numeric and is "
                                                        "not used"]


@READERS
def test_time_column_by_name_ignores_case_and_spaces(tmp_path, read):
    for name in ("Date", "time stamp", "Day", "WEEK"):
        path = tmp_path / "f.csv"
        pd.DataFrame({name: pd.date_range("2024-01-01", periods=5, freq="W-MON"),
                      "y": np.arange(5.0)}).to_csv(path, index=False)
        frame = read(path, DataSpec())
        assert frame.time_col == name and frame.freq == "W-MON" and frame.notes == []


NOT_TIME = ("column 'hour' is not read as time: its values {}; set data.time (--time-col hour) "
            "if it is")


@READERS
def test_a_cycle_named_like_time_is_an_ordinary_column(tmp_path, read):
    """`hour`, `day`, `year`, ... are the time column only when their values look like time;
    an hour of day that repeats (or wraps round) is a feature, with a note."""
    path = tmp_path / "load.csv"
    pd.DataFrame({"hour": np.tile(np.arange(24), 3), "load": np.arange(72.0)}).to_csv(
        path, index=False)
    frame = read(path, DataSpec())
    assert frame.time_col is None and frame.features == ["hour", "load"] and frame.freq == 1
    assert frame.notes == [NOT_TIME.format("repeat (0 on lines 2 and 26)")]
    frame = read(path, DataSpec(features=["hour", "load"], targets=["load"]))  # as listed
    assert frame.time_col is None and frame.features == ["hour", "load"] and frame.notes == []
    with pytest.raises(DataError, match="line 26: "):  # a duplicate
        read(path, DataSpec(time="hour"))  # what the note offers
    pd.DataFrame({"hour": np.r_[np.arange(5, 24), np.arange(5)], "load": np.arange(24.0)}
                 ).to_csv(path, index=False)  # one day from 5 am: no repeat, but it wraps
    frame = read(path, DataSpec())
    assert frame.time_col is None and frame.notes == [
        NOT_TIME.format("do not increase (0 on line 21 after 23 on line 20)")]
    path.write_text("Day,y\nMon,1\nTue,2\nWed,3\nMon,4\n")
    frame = read(path, DataSpec())
    assert frame.time_col is None and frame.features == ["y"] and frame.notes == [
        "column 'Day' is not read as time: its values are not dates or numbers ('Mon' on line "
        "2); set data.time (--time-col Day) if it is", "column 'Day' is not numeric and is not "
        "used"]


@READERS
def test_years_and_per_series_steps_are_still_time(tmp_path, read):
    path = tmp_path / "airline.csv"
    pd.DataFrame({"year": np.arange(1949, 1961), "y": np.arange(12.0)}).to_csv(path, index=False)
    frame = read(path, DataSpec())
    assert frame.time_col == "year" and frame.features == ["y"] and frame.notes == []
    path = tmp_path / "stores.csv"  # years repeat, once per store: long format
    pd.concat([pd.DataFrame({"store": s, "year": np.arange(2000, 2010), "value": np.arange(10.0)})
               for s in ("north", "south")]).to_csv(path, index=False)
    frame = read(path, DataSpec())
    assert (frame.time_col, frame.series_col, frame.features) == ("year", "store", ["value"])
    assert frame.notes[0].startswith("read as long format: series column 'store' (2 series)")
    path = tmp_path / "hours.csv"  # unique_id: the hours repeat within a series
    pd.concat([pd.DataFrame({"unique_id": s, "hour": np.tile(np.arange(24), 2),
                             "value": np.arange(48.0)}) for s in ("a", "b")]).to_csv(
        path, index=False)
    frame = read(path, DataSpec())
    assert frame.time_col is None and frame.series_col == "unique_id"
    assert frame.features == ["hour", "value"] and frame.notes == [
        NOT_TIME.format("repeat within series 'a' (0 on lines 2 and 26)")]
    path = tmp_path / "steps.csv"  # each series' hours once: time steps
    pd.concat([pd.DataFrame({"unique_id": s, "hour": np.arange(24), "value": np.arange(24.0)})
               for s in ("a", "b")]).to_csv(path, index=False)
    frame = read(path, DataSpec())
    assert frame.time_col == "hour" and frame.freq == 1 and frame.notes == []


def test_an_unknown_frequency_is_a_config_error_before_the_data_is_read():
    from pydantic import ValidationError

    for freq in ("D", "15min", "W-SUN", "7"):
        assert DataSpec(freq=freq).freq == freq
    for freq in ("XX", "fortnightly", "0", "-1D"):
        with pytest.raises(ValidationError, match="not a pandas frequency alias such as D, h, "
                           r"15min, W-SUN, MS, QS, YS, nor a whole number of steps; set "
                           r"data.freq \(--freq\) to one"):
            DataSpec(freq=freq)


@READERS
def test_time_column_recognised_from_its_values(tmp_path, read):
    path = tmp_path / "hourly.csv"
    pd.DataFrame({"when": pd.date_range("2024-03-01", periods=30, freq="h")
                  .strftime("%Y-%m-%d %H:%M"), "load": np.arange(30.0)}).to_csv(path, index=False)
    frame = read(path, DataSpec())
    assert frame.time_col == "when" and frame.freq == "h"
    assert frame.notes == ["column 'when' read as the time column (its values are dates); set "
                           "data.time (--time-col) to choose"]
    path = tmp_path / "two.csv"
    pd.read_csv(path.with_name("hourly.csv")).assign(sent=lambda d: d["when"]).to_csv(path,
                                                                                    index=False)
    with pytest.raises(DataError, match=re.escape("columns ['when', 'sent'] all hold dates, so "
                                                  "the time column is ambiguous; set data.time "
                                                  "(--time-col)")):
        read(path, DataSpec())


@READERS
def test_duplicate_stamps_of_one_series_hint_at_a_series_column(tmp_path, read):
    path = tmp_path / "f.csv"
    path.write_text("date,site,y\n2024-01-01,1,1\n2024-01-01,2,1\n2024-01-02,1,2\n")
    with pytest.raises(DataError, match=re.escape(
            "line 3: duplicate timestamp 2024-01-01 00:00:00 in the series; if the file holds "
            "several series, set data.series (--id-col) to the column naming them, or data.time "
            "(--time-col) if 'date' is not the time column")):
        read(path, DataSpec())


# ------------------------------------------------------------------------ gaps


GAP = ("5 missing time stamps in 1 gap at frequency 'D' (first: 2024-01-11, after line 11)")


@READERS
def test_missing_days_are_refused_by_default(tmp_path, read):
    path = daily_with_gap(tmp_path / "d.csv")
    with pytest.raises(DataError, match=re.escape(f"{path}: {GAP}; set data.missing (--missing)"
                                                  " to ")):
        read(path, DataSpec())


@READERS
def test_missing_days_become_rows_the_policy_fills(tmp_path, read):
    """On disk too (data.stream): interpolate and ffill fill the missing days as rows."""
    path = daily_with_gap(tmp_path / "d.csv")
    frame = read(path, DataSpec(missing="interpolate"))
    s = frame.series[0]
    assert frame.freq == "D" and len(s.values) == 30
    assert list(s.ds) == list(pd.date_range("2024-01-01", periods=30))
    np.testing.assert_allclose(s.values[:, 0], np.arange(30.0))  # y = day: exact interpolation
    assert frame.notes == [f"{GAP}; filled as rows by data.missing: interpolate"]
    s = read(path, DataSpec(missing="ffill")).series[0]
    assert s.values[10:15, 0].tolist() == [9.0] * 5


@READERS
def test_missing_days_left_out_by_drop_with_a_note(tmp_path, read):
    path = daily_with_gap(tmp_path / "d.csv")
    frame = read(path, DataSpec(missing="drop"))
    assert frame.freq == "D" and len(frame.series[0]) == 25
    assert frame.notes == [f"{GAP}; left out by data.missing: drop (windows run across the gaps)"]
    # the rows after the gap keep their own stamps: 5 days on from their places
    ds = frame.series[0].ds
    assert [(ds[k] - ds[0]).days for k in (0, 9, 10, 24)] == [0, 9, 15, 29]


@READERS
def test_gaps_in_one_series_of_a_long_file(tmp_path, read):
    path = stores_csv(tmp_path / "sales.csv", lengths=(12, 9))
    df = pd.read_csv(path)
    df.drop(index=df.index[[14, 15]]).to_csv(path, index=False)  # shop_1's 3rd and 4th day
    frame = read(path, DataSpec(missing="drop"))
    assert frame.notes[-1] == ("2 missing time stamps in 1 gap at frequency 'D' (first: "
                               "2024-01-03, after line 15 of series 'shop_1'); left out by "
                               "data.missing: drop (windows run across the gaps)")


@READERS
def test_data_freq_is_checked_against_the_stamps(tmp_path, read):
    path = daily_with_gap(tmp_path / "d.csv", hole=[])
    with pytest.raises(DataError, match=re.escape(
            "line 3: timestamp 2024-01-02 in the series is not a whole number of '2D' steps "
            "after 2024-01-01 (data.freq); set data.freq (--freq)")):
        read(path, DataSpec(freq="2D"))
    with pytest.raises(DataError, match="data.freq '7' is not a pandas frequency"):
        read(path, DataSpec(freq="7"))  # a step: for step numbers only
    with pytest.raises(DataError, match="between its 30 rows .*'min' cannot be its frequency"):
        read(path, DataSpec(freq="min", missing="drop"))
    steps = stores_csv(tmp_path / "steps.csv", day="step")
    assert read(steps, DataSpec(freq="1")).freq == 1
    with pytest.raises(DataError, match="data.freq 'D' is not a whole number of steps"):
        read(steps, DataSpec(freq="D"))


def test_unknown_frequency_note_names_the_option(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("date,y\n2024-01-01,1\n2024-01-05,2\n2024-01-06,3\n2024-01-20,4\n")
    assert read_series(path, DataSpec()).notes[-1] == (
        "could not infer the time frequency (irregular or too few timestamps); set data.freq "
        "(--freq) to forecast future timestamps")


# ------------------------------------------------------------------------ options


def test_window_without_config_uses_the_picked_config_and_the_options(tmp_path, cli):
    path = stores_csv(tmp_path / "sales.csv", lengths=(40, 35, 30))
    doc = cli.json("window", path)
    assert doc["series"] == 3 and doc["targets"] == ["revenue"]
    assert doc["notes"][0].startswith("read as long format: series column 'store' (3 series)")
    assert "no --config: the windows of the config `lstmcli train` picks" in doc["notes"][1]
    doc = cli.json("window", path, "-H", "2", "--id-col", "store", "--time-col", "day",
                   "--target", "revenue", "--freq", "D")
    assert doc["y_shape"][1:] == [2, 1] and not doc["notes"][0].startswith("read as long")
    gaps = daily_with_gap(tmp_path / "d.csv")
    result = cli("window", gaps, code=4)
    assert "set data.missing (--missing)" in result.stderr
    doc = cli.json("window", gaps, "--missing", "interpolate")
    assert doc["notes"][0] == f"{GAP}; filled as rows by data.missing: interpolate"
    cfg = write_yaml(tmp_path / "c.yaml", TINY)
    doc = cli.json("window", gaps, "-c", cfg, "--missing", "drop", "-H", "3")
    assert doc["x_shape"] == [25 - 4 - 3 + 1, 4, 1] and doc["y_shape"][1] == 3
    result = cli("window", gaps, "-c", cfg, "--freq", "nonsense", code=3)  # a config error
    assert ("--freq: data.freq: not a pandas frequency alias such as D, h, 15min, W-SUN, MS, "
            "QS, YS, nor a whole number of steps; set data.freq (--freq) to one. Received: "
            "'nonsense'") in result.stderr
    result = cli("window", gaps, "--freq", "XX", code=2)  # no config: a usage error
    assert "--freq: not a pandas frequency alias" in result.stderr


def test_picked_config_keeps_the_options(tmp_path):
    from lstmcli import api
    from lstmcli.evaluation.defaults import picked

    path = stores_csv(tmp_path / "sales.csv", lengths=(40, 35, 30))
    config, frame, _ = picked(path, spec=api.options_spec({"series": "store",
                                                           "missing": "interpolate"}))
    assert config.data.series == "store" and config.data.missing == "interpolate"
    assert config.data.time is None  # filled in from the frame when the run is saved
    assert frame.notes == []  # given, not recognised


def test_train_saves_the_options_in_config_yaml(tmp_path, cli):
    data = daily_with_gap(tmp_path / "d.csv", n=40)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {**TINY["training"],
                                                                "epochs": 1}})
    run = tmp_path / "run"
    result = cli("train", data, "-c", cfg, "-o", run, "--missing", "interpolate", "--freq", "D",
                 "--target", "y", "--time-col", "date")
    assert "5 missing time stamps in 1 gap" in result.stderr
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert (saved["missing"], saved["freq"], saved["targets"], saved["time"]) == (
        "interpolate", "D", ["y"], "date")
    forecast = cli("rollout", data, "-m", run, "-H", "2").stdout.splitlines()
    assert forecast[1].startswith("2024-02-10,")  # 40 days, the 5 missing ones filled
