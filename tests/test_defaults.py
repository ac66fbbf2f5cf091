"""`train` without --config: a config picked from the data, said, saved and reusable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import wide_csv
from lstmcli.config import DataSpec, load_config
from lstmcli.data import read_series
from lstmcli.defaults import auto_config


@pytest.mark.parametrize("freq, n, look_back, calendar", [
    ("MS", 144, 24, ["month"]),
    ("D", 400, 14, ["dayofweek"]),
    ("h", 1000, 48, ["hour", "dayofweek"]),
    ("W-SUN", 600, 96, ["weekofyear"]),
    ("QS", 80, 8, ["month"]),
    ("MS", 40, 10, ["month"]),  # a short series: look_back at most a quarter of it
])
def test_picks_by_frequency(tmp_path, freq, n, look_back, calendar):
    data = wide_csv(tmp_path / "d.csv", n=n, freq=freq)
    config, notes = auto_config(read_series(data, DataSpec()))
    assert config.window.look_back == look_back and config.data.calendar == calendar
    assert config.model.residual == "last_value" and config.training.early_stopping.enabled
    assert f"picked look_back {look_back}" in notes[0]


def test_step_numbers_get_no_calendar(tmp_path):
    data = tmp_path / "steps.csv"
    pd.DataFrame({"y": np.sin(np.arange(100) / 3)}).to_csv(data, index=False)
    config, _ = auto_config(read_series(data, DataSpec()))
    assert config.data.calendar == [] and config.window.look_back == 8


def test_train_without_config_says_and_saves_what_it_picked(tmp_path, cli):
    data = wide_csv(tmp_path / "d.csv", n=120, freq="MS")
    result = cli("train", data, "-o", tmp_path / "run", "--epochs", "2")
    assert "no --config: picked look_back 24 (season length 12), calendar features " \
           "['month']" in result.stderr
    saved = tmp_path / "run" / "config.yaml"
    assert saved.read_text().startswith("# The resolved config of this run")
    config = load_config(saved)
    assert config.window.look_back == 24 and config.data.features == ["y"]
    assert yaml.safe_load(saved.read_text())["model"]["residual"] == "last_value"
    info = cli.json("inspect", "-m", tmp_path / "run")  # calendar columns are inputs too
    assert info["input_shape"][-1] == 3 and "month_sin" in info["input_meaning"]
    # reused as it is
    cli("train", data, "-c", saved, "-o", tmp_path / "again", "--epochs", "1", "--quiet")
    rollout = cli("rollout", data, "-m", tmp_path / "run", "-H", "3").stdout.splitlines()
    assert rollout[0].startswith("date,y,y_lo_80") and len(rollout) == 4
