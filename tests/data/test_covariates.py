"""Calendar features (future-known covariates): derived from time stamps, fed during rollout
instead of predicted; past covariates with a direct model."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, long_csv, wide_csv, write_yaml
from lstmcli.config import DataSpec
from lstmcli.data import calendar
from lstmcli.data.read import read_series


def test_calendar_columns_are_points_on_the_cycle(tmp_path):
    data = wide_csv(tmp_path / "d.csv", n=10, freq="MS")
    frame = read_series(data, DataSpec(calendar=["month"]))
    assert frame.features == ["y", "month_sin", "month_cos"] and frame.targets == ["y"]
    assert frame.derived == ["month_sin", "month_cos"]
    month = frame.series[0].ds.month.to_numpy() - 1
    np.testing.assert_allclose(frame.series[0].values[:, 1], np.sin(2 * np.pi * month / 12))
    np.testing.assert_allclose(frame.series[0].values[:, 2], np.cos(2 * np.pi * month / 12))
    hours = pd.date_range("2024-01-01", periods=48, freq="h")
    values = calendar.features(hours, ["hour", "dayofweek"])
    np.testing.assert_allclose(values[0], [0, 1, 0, 1], atol=1e-12)  # Monday, midnight
    np.testing.assert_allclose(values[6, :2], [1, 0], atol=1e-12)  # 6h: a quarter turn


def test_calendar_needs_time_stamps(tmp_path, cli):
    data = tmp_path / "steps.csv"
    pd.DataFrame({"y": np.arange(30.0)}).to_csv(data, index=False)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "data": {"calendar": ["month"]}})
    result = cli("window", data, "-c", cfg, code=4)
    assert "data.calendar needs timestamps" in result.stderr


def _weekly_pattern_csv(path, n=140):
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    y = np.where(ds.day_of_week >= 5, 20.0, 10.0) + np.random.default_rng(0).normal(0, .1, n)
    pd.DataFrame({"date": ds.strftime("%Y-%m-%d"), "y": y.round(4)}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mode", ["stateless", "stateful"])
def test_rollout_feeds_the_calendar_of_each_future_step(tmp_path, cli, mode):
    """A weekend pattern the look_back window cannot see whole: with day-of-week features
    rollout gets its future days right (the calendar comes from the future stamps)."""
    data = _weekly_pattern_csv(tmp_path / "d.csv")
    training = {"epochs": 150, "batch_size": 8, "seed": 1, "validation": 0.1,
                "early_stopping": {"patience": 30}, "optimizer": {"learning_rate": 0.01}}
    if mode == "stateful":
        training.update(mode="stateful", batch_size=1, chunk_length=14)
    cfg = write_yaml(tmp_path / "c.yaml", {
        "data": {"calendar": ["dayofweek"]}, "window": {"look_back": 2},
        "model": {"topology": "many_to_many" if mode == "stateful" else "many_to_one",
                  "layers": [{"units": 8}]}, "training": training})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    out = cli("rollout", data, "-m", tmp_path / "run", "-H", "14").stdout
    table = pd.read_csv(io.StringIO(out), parse_dates=["date"])
    weekend = table["date"].dt.day_of_week >= 5
    assert list(table.columns[:2]) == ["date", "y_forecast"] and len(table) == 14
    gap = table.loc[weekend, "y_forecast"].mean() - table.loc[~weekend, "y_forecast"].mean()
    assert gap > 5, table  # the truth is 10 apart; without the calendar a 2-step window
    # cannot tell Monday from Tuesday, nor Saturday from Friday


def test_long_format_calendar_every_series_forecast(tmp_path, cli):
    data = long_csv(tmp_path / "long.csv", lengths=(40, 35, 30))
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "data": {"calendar": ["dayofweek"]}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    table = pd.read_csv(io.StringIO(cli("rollout", data, "-m", tmp_path / "run", "-H",
                                        "5").stdout))
    assert table.groupby("unique_id").size().to_dict() == {"s0": 5, "s1": 5, "s2": 5}
    assert "dayofweek_sin" not in table.columns


def test_past_covariate_with_a_direct_model(tmp_path, cli):
    """A covariate known only up to now: a direct model forecasts its whole horizon from
    the last window, so nothing is fed back and rollout works up to that horizon."""
    data = wide_csv(tmp_path / "d.csv", n=60, columns=("y", "x"))
    cfg = write_yaml(tmp_path / "c.yaml", {
        "data": {"features": ["y", "x"], "targets": ["y"]},
        "window": {"look_back": 6, "horizon": 4},
        "model": {"topology": "direct", "layers": [{"units": 4}]},
        "training": TINY["training"]})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    table = pd.read_csv(io.StringIO(cli("rollout", data, "-m", tmp_path / "run", "-H",
                                        "4").stdout))
    assert list(table.columns[:2]) == ["date", "y_forecast"] and len(table) == 4
    result = cli("rollout", data, "-m", tmp_path / "run", "-H", "5", code=5)
    assert "every input must be predicted, a calendar feature, or a covariate" in result.stderr
    # predict: each window's 4 steps, with the window's last row as their origin
    result = cli("predict", data, "-m", tmp_path / "run")
    table = pd.read_csv(io.StringIO(result.stdout), parse_dates=["date", "origin"])
    assert list(table.columns) == ["date", "origin", "step", "y_forecast", "y_lo_80",
                                   "y_hi_80", "y_lo_95", "y_hi_95", "y_actual"]
    assert ((table["date"] - table["origin"]).dt.days == table["step"]).all()
    assert table["origin"].iloc[0] == pd.Timestamp("2024-01-06")  # rows 0..5 of the file
    width = table["y_hi_95"] - table["y_lo_95"]  # calibrated per step: one width per step
    assert width.groupby(table["step"]).agg(np.ptp).max() < 1e-4, width
    last = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "run", "--last").stdout))
    assert last["origin"].tolist() == ["2024-02-29"] * 4 and last["step"].tolist() == [1, 2, 3, 4]


PROMO_DAYS = 200


def _promotions(tmp_path, *, lag: int, seed: int, future: list[str], cli) -> np.ndarray:
    """Daily sales lifted by 8 on promotion days (lag 0) or the day after (lag 1), the
    promotion flags of the next 10 days in future.csv, and a model trained on the sales
    with the flag as an input (`future`: data.future). Returns all the flags."""
    n = PROMO_DAYS
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    promo = (np.random.default_rng(seed).random(n + 10) < 0.3).astype(float)
    lifted = np.r_[np.zeros(lag), promo[:n - lag]]
    y = 10 + 8 * lifted + np.random.default_rng(seed + 1).normal(0, 0.1, n)
    pd.DataFrame({"date": ds.strftime("%Y-%m-%d"), "y": y.round(3), "promo": promo[:n]}
                 ).to_csv(tmp_path / "d.csv", index=False)
    future_ds = pd.date_range(ds[-1], periods=11, freq="D")[1:]
    pd.DataFrame({"date": future_ds.strftime("%Y-%m-%d"), "promo": promo[n:]}).to_csv(
        tmp_path / "future.csv", index=False)
    cfg = write_yaml(tmp_path / "c.yaml", {
        "data": {"features": ["y", "promo"], "targets": ["y"], "future": future},
        "window": {"look_back": 3}, "model": {"layers": [{"units": 8}]},
        "training": {"epochs": 200, "batch_size": 16, "seed": 1, "early_stopping":
                     {"patience": 40}, "optimizer": {"learning_rate": 0.01}}})
    cli("train", tmp_path / "d.csv", "-c", cfg, "-o", tmp_path / "run", "--quiet")
    return promo


def _rollout_with_future(tmp_path, cli, horizon: int) -> pd.DataFrame:
    out = cli("rollout", tmp_path / "d.csv", "-m", tmp_path / "run", "-H", str(horizon),
              "--future", tmp_path / "future.csv").stdout
    return pd.read_csv(io.StringIO(out))


def test_future_covariate_from_a_csv(tmp_path, cli):
    """A covariate known ahead (a promotion flag), given for the horizon with --future: the
    rollout feeds each step's value. The promotion lifts sales the day after (the window
    holds the covariate up to the step before the one predicted), so the forecast must be
    higher on the days after promotion days of the future file."""
    n = PROMO_DAYS
    promo = _promotions(tmp_path, lag=1, seed=4, future=[], cli=cli)
    result = cli("rollout", tmp_path / "d.csv", "-m", tmp_path / "run", "-H", "12", code=5)
    assert "--future" in result.stderr
    table = _rollout_with_future(tmp_path, cli, 10)
    assert len(table) == 10 and "promo" not in table.columns
    after = np.r_[promo[n - 1], promo[n:n + 9]] == 1  # a promotion the day before
    gap = table["y_forecast"][after].mean() - table["y_forecast"][~after].mean()
    assert gap > 4, table  # the truth is 8 apart
    result = cli("rollout", tmp_path / "d.csv", "-m", tmp_path / "run", "-H", "12",
                 "--future", tmp_path / "future.csv", code=4)
    assert "the future file must cover the whole horizon" in result.stderr


def test_known_ahead_covariate_acts_on_its_own_step(tmp_path, cli):
    """data.future aligns a covariate with the step being predicted: a promotion that lifts
    sales on the very day is forecast on that day (the plain covariate above only learns
    effects from the next day on)."""
    promo = _promotions(tmp_path, lag=0, seed=6, future=["promo"], cli=cli)
    table = _rollout_with_future(tmp_path, cli, 10)
    on = promo[PROMO_DAYS:] == 1
    y = table["y_forecast"]
    assert y[on].mean() - y[~on].mean() > 4, table  # the truth: 8 apart
    result = cli("rollout", tmp_path / "d.csv", "-m", tmp_path / "run", "-H", "3", code=5)
    assert "--future" in result.stderr
