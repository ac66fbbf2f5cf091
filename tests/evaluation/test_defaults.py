"""`train` without --config: a config picked from the data, said, saved and reusable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import wide_csv
from lstmcli.config import DataSpec, load_config
from lstmcli.data.read import read_series
from lstmcli.evaluation.defaults import auto_config
from lstmcli.training.layouts import split_windows


@pytest.mark.parametrize("freq, n, horizon, look_back, tail, calendar", [
    ("MS", 144, 24, 48, 29, ["month"]),  # two seasons ahead, 2 H back, a fifth validates
    ("D", 400, 14, 28, 80, ["dayofweek"]),
    ("h", 1000, 48, 96, 200, ["hour", "dayofweek"]),
    ("W-SUN", 600, 13, 104, 120, ["weekofyear"]),  # two seasons back, capped at 96
    ("QS", 80, 8, 16, 16, ["month"]),
    ("MS", 40, 14, 12, 14, ["month"]),  # too short for a 24-step head: the longest that fits
    ("YS", 30, 6, 12, 6, []),
])
def test_picks_by_frequency(tmp_path, freq, n, horizon, look_back, tail, calendar):
    data = wide_csv(tmp_path / "d.csv", n=n, freq=freq)
    config, notes = auto_config(read_series(data, DataSpec()))
    look_back = min(look_back, 96)
    assert (config.window.horizon, config.window.look_back) == (horizon, look_back)
    assert config.training.validation == tail and config.data.calendar == calendar
    assert config.model.residual == "last_value" and config.model.normalize == "window"
    assert not config.model.linear_skip and config.training.refit  # one series: no skip
    assert config.data.scaling == "mean" and not config.data.scale_per_series  # one series
    assert config.training.early_stopping.patience == 10  # one series
    assert f"picked horizon {horizon}" in notes[0] and f"look_back {look_back}" in notes[0]


def test_a_given_horizon_is_used(tmp_path):
    data = wide_csv(tmp_path / "d.csv", n=144, freq="MS")
    config, notes = auto_config(read_series(data, DataSpec()), horizon=6)
    assert config.window.horizon == 6 and config.window.look_back == 24
    assert "picked horizon 6," in notes[0]


def test_many_series_validate_on_the_last_horizon_steps(tmp_path):
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2000-01-01", periods=n,
                                                                         freq="MS"),
                            "y": rng.uniform(1, 2, n) * 10 ** (k % 5)})
              for k, n in enumerate(range(60, 100, 2))]
    data = tmp_path / "long.csv"
    pd.concat(frames).to_csv(data, index=False)
    config, notes = auto_config(read_series(data, DataSpec()), horizon=12)
    assert config.training.validation == 12 and config.data.scale_per_series
    assert config.data.calendar == []  # across many series the season is in the window
    assert config.model.linear_skip  # (measured on collections, docs/accuracy.md)
    assert config.model.layers[0].units == 64  # a small collection
    # windows from a season of a series' rows on, so the 60-row series train too (60 - 12
    # training rows < look_back 24 + horizon 12 + ...), on the metric the collections use
    assert (config.window.look_back, config.window.min_input) == (24, 12)
    assert config.training.loss == "mase"
    assert "windows from 12 rows of a series on" in notes[0] and "(loss mase)" in notes[0]
    one, notes = auto_config(read_series(wide_csv(tmp_path / "one.csv", n=120, freq="MS"),
                                         DataSpec()), horizon=12)
    assert one.window.min_input is None and one.training.loss == "mae"
    assert "rows of a series on" not in notes[0]


def test_step_numbers_get_no_calendar(tmp_path):
    data = tmp_path / "steps.csv"
    pd.DataFrame({"y": np.sin(np.arange(100) / 3)}).to_csv(data, index=False)
    config, _ = auto_config(read_series(data, DataSpec()))
    assert config.data.calendar == [] and config.window.look_back == 12  # 2 H


def test_train_without_config_says_and_saves_what_it_picked(tmp_path, cli):
    data = wide_csv(tmp_path / "d.csv", n=120, freq="MS")
    result = cli("train", data, "-o", tmp_path / "run", "--epochs", "2", "--horizon", "3")
    assert "no --config: picked horizon 3, look_back 24 (season length 12)" in result.stderr
    saved = tmp_path / "run" / "config.yaml"
    assert saved.read_text().startswith("# The resolved config of this run")
    config = load_config(saved)
    assert config.window.look_back == 24 and config.data.features == ["y"]
    assert config.window.horizon == 3
    assert yaml.safe_load(saved.read_text())["model"]["residual"] == "last_value"
    info = cli.json("inspect", "-m", tmp_path / "run")  # calendar columns are inputs too
    assert info["input_shape"][-1] == 3 and "month_sin" in info["input_meaning"]
    # reused as it is: it builds the same model and cuts the same windows from the data
    # (training it again would repeat the training above: 3 members and their refit)
    built = cli.json("inspect", "--config", saved, "--features", "3")
    assert built["total_params"] == info["total_params"]
    cut = cli.json("window", data, "-c", saved)
    assert cut["x_shape"][1:] == [24, 3] and cut["y_shape"][1:] == [3, 1]
    rollout = cli("rollout", data, "-m", tmp_path / "run", "-H", "3").stdout.splitlines()
    assert rollout[0].startswith("date,y_forecast,y_lo_80") and len(rollout) == 4


def _daily(path, series, n=2000):
    rng = np.random.default_rng(0)
    pd.concat(pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2000-01-01", periods=n),
                            "y": rng.uniform(1, 2, n)}) for k in range(series)
              ).to_csv(path, index=False)
    return read_series(path, DataSpec())


def test_collections_train_within_a_budget_of_window_passes(tmp_path):
    """The epochs are cut so that the early-stopped stages and the refits, each at most that
    long, pass over at most TRAIN_PASSES windows. 20 daily series of 2,000 rows give
    20 * (2000 - 14 - 7 - 14 + 1) = 39,320 windows: three members early-stopped and three
    refits, so 10 epochs; past SMALL_WINDOWS, LSTM(32)."""
    from lstmcli.evaluation.defaults import MEMBERS, SMALL_WINDOWS, TRAIN_PASSES

    config, notes = auto_config(_daily(tmp_path / "d.csv", 20))
    assert (config.window.horizon, config.window.min_input, config.training.validation) == (
        14, 7, 14)
    assert (config.training.ensemble, config.training.ensemble_validation) == (3, "each")
    assert config.training.epochs == TRAIN_PASSES // (2 * MEMBERS * 39_320) == 10
    assert "at most 10 epochs (its 6 training stages within about 2,400,000 window passes)" \
        in notes[0]
    assert config.training.early_stopping.patience == 5  # several series
    assert 39_320 > SMALL_WINDOWS and config.model.layers[0].units == 32
    assert "the median of 3 LSTM(32)s with a linear skip" in notes[0]
    # past ENSEMBLE_WINDOWS only the first member is early-stopped: four stages, 40 series
    # (78,640 windows) 7 epochs
    config, notes = auto_config(_daily(tmp_path / "d.csv", 40))
    assert (config.training.ensemble, config.training.ensemble_validation) == (3, "first")
    assert config.training.epochs == TRAIN_PASSES // ((1 + MEMBERS) * 78_640) == 7
    assert "at most 7 epochs (its 4 training stages within about 2,400,000 window passes)" \
        in notes[0]
    assert "early stopping (patience 5) of the first only" in notes[0]
    # a small file keeps 100 epochs (early stopping ends it sooner) and LSTM(64)
    small, notes = auto_config(read_series(wide_csv(tmp_path / "s.csv", n=120, freq="MS"),
                                           DataSpec()))
    assert small.training.epochs == 100 and "at most" not in notes[0]
    assert (small.training.ensemble, small.training.ensemble_validation) == (3, "each")
    assert small.model.layers[0].units == 64
    assert "the median of 3 LSTM(64)s forecasting" in notes[0]


def test_collections_past_the_window_budget_train_on_recent_windows(tmp_path, monkeypatch):
    """Past WINDOW_BUDGET windows (MIN_EPOCHS epochs of the first member and the refits
    would exceed TRAIN_PASSES), each series trains on its most recent windows: the most per
    series that fit, at least H."""
    from lstmcli.evaluation import defaults

    assert defaults.WINDOW_BUDGET == defaults.TRAIN_PASSES // (
        (1 + defaults.MEMBERS) * defaults.MIN_EPOCHS) == 120_000
    assert defaults.recent_windows([10, 20, 30], 4, 60) is None
    assert defaults.recent_windows([10, 20, 30], 4, 40) == 15  # 10 + 15 + 15
    assert defaults.recent_windows([10, 20, 30], 4, 41) == 15  # 16 would need 42
    assert defaults.recent_windows([100, 100], 4, 5) == 4  # never fewer than H
    # 10 daily series of 300 rows (validation: a fifth of them, 60, with fewer than 20
    # series): 300 - 60 - 7 - 14 + 1 = 220 windows each, 2,200 in all
    frame = _daily(tmp_path / "d.csv", 10, n=300)
    assert auto_config(frame)[0].window.history is None
    monkeypatch.setattr(defaults, "WINDOW_BUDGET", 1000)
    config, notes = auto_config(frame)
    assert config.window.history == 100 and config.training.epochs == 100
    assert "each series' last 100 windows (1,000 in all)" in notes[0]
    _, data, _ = split_windows(frame, config)
    assert data.n_train == 1000


def test_quarterly_collections_read_four_horizons(tmp_path):
    """Several quarterly series: look_back 4 H (32 for the default H = 8), a window from 8
    of a series' rows on; monthly ones keep 2 H."""
    rng = np.random.default_rng(0)
    for freq, h, look_back, least in (("QS", 8, 32, 8), ("MS", 24, 48, 12)):
        pd.concat(pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range(
            "1990-01-01", periods=80, freq=freq), "y": rng.uniform(1, 2, 80)})
            for k in range(25)).to_csv(tmp_path / "d.csv", index=False)
        config, notes = auto_config(read_series(tmp_path / "d.csv", DataSpec()))
        assert (config.window.horizon, config.window.look_back,
                config.window.min_input) == (h, look_back, least)
        assert f"picked horizon {h} " in notes[0] and f"look_back {look_back} " in notes[0]


def test_several_monthly_or_quarterly_series_damp_the_trend(tmp_path):
    """model.damping 0.5 with the year as season for collections of monthly or quarterly
    series (measured there); yearly collections and single series get none."""
    rng = np.random.default_rng(0)
    for freq, season, damped in (("MS", 12, True), ("QS", 4, True), ("YS", 1, False)):
        pd.concat(pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range(
            "1960-01-01", periods=60, freq=freq), "y": rng.uniform(1, 2, 60)})
            for k in range(25)).to_csv(tmp_path / "d.csv", index=False)
        config, notes = auto_config(read_series(tmp_path / "d.csv", DataSpec()))
        assert config.model.damping == (0.5 if damped else 1.0), freq
        assert config.model.season == season
        said = "trend damped by 0.5 a year from the forecast's second year on"
        assert (said in notes[0]) == damped
    one, notes = auto_config(read_series(wide_csv(tmp_path / "one.csv", n=144, freq="MS"),
                                         DataSpec()))
    assert one.model.damping == 1.0 and "damped" not in notes[0]
