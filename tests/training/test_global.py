"""Global models over many series of different levels: scale-free inputs (mean scaling per
series, per-window normalisation), validation on the last steps, ensembles by median,
baseline forecasts for series too short for a window, never-negative series kept so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import write_yaml
from lstmcli.config import config_from_dict
from lstmcli.data.scaling import Scaler
from lstmcli.errors import ConfigError
from lstmcli.models.topology import build_model, median_of
from lstmcli.training.layouts import training_rows

BASE = {"window": {"look_back": 6, "horizon": 3},
        "model": {"layers": [{"units": 4}], "residual": "last_value", "normalize": "window"}}


def test_window_normalisation_makes_the_model_scale_free():
    """Multiplying a window's target column by c multiplies the forecast by c; the other
    inputs (a calendar feature here) are not scaled."""
    cfg = config_from_dict(BASE)
    model = build_model(cfg.model, look_back=6, n_features=2, horizon=3, n_targets=1,
                        first_input=[0])
    x = np.random.default_rng(0).uniform(0.5, 2, (4, 6, 2)).astype("float32")
    y = model.predict(x, verbose=0)
    for c in (1e-3, 7.0, 1e4):
        big = x * np.array([c, 1], dtype="float32")
        np.testing.assert_allclose(model.predict(big, verbose=0), c * y, rtol=2e-5)


def test_ensemble_output_is_the_members_median():
    cfg = config_from_dict(BASE)
    members = [build_model(cfg.model, look_back=6, n_features=1, horizon=3, n_targets=1,
                           first_input=[0]) for _ in range(3)]
    x = np.random.default_rng(1).uniform(0.5, 2, (5, 6, 1)).astype("float32")
    each = np.stack([m.predict(x, verbose=0) for m in members])
    np.testing.assert_allclose(median_of(members).predict(x, verbose=0), np.median(each, 0),
                               rtol=1e-6)


@pytest.mark.parametrize("validation, n, expect", [(0.1, 100, 90), (24, 100, 76), (2, 100, 97),
                                                   (0, 100, 100)])
def test_validation_as_a_fraction_or_as_steps(validation, n, expect):
    cfg = config_from_dict({**BASE, "training": {"validation": validation}})
    assert training_rows(n, cfg) == expect  # never fewer than the horizon (3) held out


@pytest.mark.parametrize("bad", [0.95, 2.5])
def test_validation_that_is_neither(bad):
    with pytest.raises(ConfigError, match="neither a fraction"):
        config_from_dict({**BASE, "training": {"validation": bad}})


def test_normalize_and_ensemble_refuse_what_they_cannot_do():
    with pytest.raises(ConfigError, match="model.normalize"):
        config_from_dict({**BASE, "model": {**BASE["model"], "residual": "none",
                                            "topology": "many_to_many"},
                          "window": {"look_back": 6}})
    with pytest.raises(ConfigError, match="training.ensemble"):
        config_from_dict({"window": {"look_back": 6}, "model": {"layers": [{"units": 2}]},
                          "training": {"mode": "stateful", "ensemble": 2}})


def test_mean_scaling_keeps_signs_and_ratios():
    rows = np.array([[1.0, -2.0], [3.0, 2.0], [2.0, 0.0]])
    s = Scaler.fit("mean", ["a", "b"], rows)
    np.testing.assert_allclose(s.shift, 0)
    np.testing.assert_allclose(s.scale, [2.0, 4 / 3])
    np.testing.assert_allclose(s.inverse(s.transform(rows), [0, 1]), rows)
    zero = Scaler.fit("mean", ["z"], np.zeros((3, 1)))
    assert zero.scale[0] == 1.0  # a column of zeros is left as it is


def _levels_csv(path, lengths=(60, 60, 60, 9), levels=(10.0, 1000.0, 100000.0, 50.0)):
    """Monthly series of very different levels with a yearly cycle; the last is too short
    for any window."""
    rng = np.random.default_rng(2)
    frames = []
    for k, (n, level) in enumerate(zip(lengths, levels, strict=True)):
        t = np.arange(n)
        y = level * (1 + 0.3 * np.sin(2 * np.pi * t / 12) + 0.01 * t) * rng.uniform(0.95, 1.05, n)
        frames.append(pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range(
            "2010-01-01", periods=n, freq="MS"), "y": y}))
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_no_config_forecasts_every_series_at_its_own_level(tmp_path, cli):
    data = _levels_csv(tmp_path / "levels.csv")
    result = cli("train", data, "-o", tmp_path / "run", "--horizon", "6", "--epochs", "3")
    assert "picked horizon 6" in result.stderr
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["data"]["scale_per_series"] and saved["training"]["validation"] == 6
    out = cli("rollout", data, "-m", tmp_path / "run", "-H", "9", "-o", tmp_path / "f.csv")
    assert "1 series shorter than window.min_input 12" in out.stderr and "'s3'" in out.stderr
    table = pd.read_csv(tmp_path / "f.csv")
    assert len(table) == 4 * 9 and not table.isna().any().any()  # every series, every cell
    history = pd.read_csv(data)
    for sid, g in table.groupby("unique_id"):
        h = history[history.unique_id == sid].y
        # at its own level (an untrained model stays near the last values), never negative
        f = g.y_forecast
        assert (f > 0).all() and (g.y_lo_95 >= 0).all()
        assert h.min() / 3 < f.median() < 3 * h.max(), (sid, f.median(), h.min(), h.max())
        assert (g.y_lo_95 <= g.y_lo_80).all() and (g.y_lo_80 <= f).all()
        assert (f <= g.y_hi_80).all() and (g.y_hi_80 <= g.y_hi_95).all()
    short = table[table.unique_id == "s3"].y_forecast.to_numpy()
    np.testing.assert_allclose(short, history[history.unique_id == "s3"].y.iloc[-1])  # naive


def test_ensemble_run_holds_and_uses_all_members(tmp_path, cli):
    data = _levels_csv(tmp_path / "levels.csv", lengths=(40, 40), levels=(5.0, 500.0))
    cfg = write_yaml(tmp_path / "e.yaml", {
        "data": {"scaling": "mean", "scale_per_series": True},
        "window": {"look_back": 12, "horizon": 4},
        "model": {"layers": [{"units": 4}], "residual": "last_value", "normalize": "window",
                  "season": 2, "damping": 0.5},
        "training": {"epochs": 2, "ensemble": 3, "validation": 4, "batch_size": 16,
                     "ensemble_inputs": [12, 5]}})
    result = cli("train", data, "-c", cfg, "-o", tmp_path / "run")
    assert "ensemble: 3 models (seeds 42..44)" in result.stderr
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert sorted(history.member.unique()) == [0, 1, 2]
    from lstmcli.runs.bundle import load_bundle

    model = load_bundle(tmp_path / "run").model
    members = [layer for layer in model.layers if layer.name.startswith("member_")]
    assert len(members) == 3
    # model.damping: each member's forecast damped when forecasting, saved and loaded so
    def nested(layer):
        return [layer, *(inner for sub in getattr(layer, "layers", []) for inner in nested(sub))]

    assert [d.damping for m in members for d in nested(m) if d.name == "damped"] == [0.5] * 3
    x = np.random.default_rng(3).uniform(0.5, 2, (2, 12, 1)).astype("float32")
    each = np.stack([m.predict(x, verbose=0) for m in members])
    np.testing.assert_allclose(model.predict(x, verbose=0), np.median(each, 0), rtol=1e-6)
    # training.ensemble_inputs [12, 5]: the second member reads only the last 5 steps
    changed = x.copy()
    changed[:, :7] *= 3
    moved = [not np.allclose(m.predict(changed, verbose=0), e) for m, e in zip(members, each,
                                                                               strict=True)]
    assert moved == [True, False, True]
    table = cli.json("rollout", data, "-m", tmp_path / "run", "-H", "5")["rows_data"]
    assert len(table) == 10


def test_ensemble_inputs_are_at_most_the_window():
    with pytest.raises(ConfigError, match="at most window.look_back"):
        config_from_dict({**BASE, "training": {"ensemble": 2, "ensemble_inputs": [6, 7]}})
    with pytest.raises(ConfigError, match="ensemble_inputs"):
        config_from_dict({**BASE, "window": {"look_back": 6}, "training": {
            "ensemble_inputs": [3], "mode": "stateful"}, "model": {"layers": [{"units": 2}]}})


def test_never_negative_series_are_not_forecast_below_zero(tmp_path, cli):
    """A series at zero most of the time with a falling trend: the forecasts and the
    interval bounds stop at zero (documented rule); a series that was negative is free."""
    n = 48
    y = np.maximum(0, 20 - 0.5 * np.arange(n)) + (np.arange(n) % 3 == 0)
    frames = [pd.DataFrame({"unique_id": "pos", "ds": pd.date_range("2020-01-01", periods=n,
                                                                    freq="D"), "y": y}),
              pd.DataFrame({"unique_id": "neg", "ds": pd.date_range("2020-01-01", periods=n,
                                                                    freq="D"), "y": y - 10})]
    data = tmp_path / "d.csv"
    pd.concat(frames).to_csv(data, index=False)
    cfg = write_yaml(tmp_path / "c.yaml", {
        "data": {"scaling": "standard"}, "window": {"look_back": 7},
        "model": {"layers": [{"units": 4}], "residual": "last_value"},
        "training": {"epochs": 2, "validation": 7}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    table = pd.read_csv(tmp_path / "f.csv") if cli(
        "rollout", data, "-m", tmp_path / "run", "-H", "7", "-o", tmp_path / "f.csv") else None
    pos = table[table.unique_id == "pos"]
    assert (pos[["y_forecast", "y_lo_80", "y_lo_95", "y_hi_80", "y_hi_95"]] >= 0).all().all()
    assert (table[table.unique_id == "neg"].y_lo_95 < 0).any()


def test_seasonal_residual_adds_the_last_season_repeated():
    """With the head's weights at zero the network adds nothing: the forecast is the
    window's last season repeated (Seasonal-Naive), at any level."""
    cfg = config_from_dict({**BASE, "window": {"look_back": 8, "horizon": 5},
                            "model": {**BASE["model"], "residual": "seasonal", "season": 3}})
    model = build_model(cfg.model, look_back=8, n_features=1, horizon=5, n_targets=1,
                        first_input=[0])
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    x = np.random.default_rng(3).uniform(0.5, 2, (4, 8, 1)).astype("float32") * 1000
    expect = x[:, [5, 6, 7, 5, 6], :]  # the last 3 steps, then again
    np.testing.assert_allclose(model.predict(x, verbose=0), expect, rtol=1e-5)


@pytest.mark.parametrize("season, look_back", [(1, 8), (9, 8)])
def test_seasonal_residual_needs_a_season_within_the_window(season, look_back):
    with pytest.raises(ConfigError, match="model.season"):
        config_from_dict({**BASE, "window": {"look_back": look_back, "horizon": 2},
                          "model": {**BASE["model"], "residual": "seasonal", "season": season}})


def test_mase_weights_are_one_over_the_seasonal_difference():
    from lstmcli.training.layouts import series_weights
    from lstmcli.training.pipeline import stack_series

    a = np.tile([1.0, 3.0], 10)[:, None]  # season 2: no seasonal change -> floored
    b = np.arange(20.0)[:, None] * 2  # changes by 4 every 2 steps
    flat, offsets = stack_series([len(a), len(b)], a.shape[1], [a, b])
    w = series_weights(flat, offsets, [20, 10], [0], season=2)
    np.testing.assert_allclose(w, [1 / (0.01 * 2.0), 1 / 4.0])
    with pytest.raises(ConfigError, match="training.loss: mase"):
        config_from_dict({"window": {"look_back": 6}, "model": {"layers": [{"units": 2}]},
                          "training": {"mode": "stateful", "loss": "mase"}})


def test_mase_loss_trains_on_weighted_windows(tmp_path, cli):
    data = _levels_csv(tmp_path / "levels.csv", lengths=(40, 40), levels=(5.0, 500.0))
    cfg = write_yaml(tmp_path / "m.yaml", {
        "data": {"scaling": "mean", "scale_per_series": True},
        "window": {"look_back": 12, "horizon": 4},
        "model": {"layers": [{"units": 4}], "residual": "seasonal", "season": 12,
                  "normalize": "window"},
        "training": {"epochs": 2, "loss": "mase", "validation": 4, "jit_compile": False}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run")
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    cli("rollout", data, "-m", tmp_path / "run", "-H", "6", "-o", tmp_path / "f.csv")
    assert len(pd.read_csv(tmp_path / "f.csv")) == 12


def test_refit_trains_again_on_every_row_for_the_best_epoch_count(tmp_path, cli):
    data = _levels_csv(tmp_path / "levels.csv", lengths=(40, 40), levels=(5.0, 500.0))
    cfg = write_yaml(tmp_path / "r.yaml", {
        "data": {"scaling": "mean", "scale_per_series": True},
        "window": {"look_back": 12, "horizon": 4},
        "model": {"layers": [{"units": 4}], "residual": "last_value", "normalize": "window",
                  "linear_skip": True},
        "training": {"epochs": 3, "validation": 4, "refit": True, "ensemble": 2,
                     "jit_compile": False}})  # (no compile per member: a faster test)
    result = cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--json")
    import json

    doc = json.loads(result.stdout)
    refit = doc["training"]["refit"]
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    best = [int(g.loc[g.val_loss.idxmin(), "epoch"]) for _, g in history.groupby("member")]
    assert refit["epochs"] == best  # each member for its own best epoch count
    assert any("refit on every row" in n for n in doc["notes"])
    meta = json.loads((tmp_path / "run" / "bundle.json").read_text())
    assert meta["intervals"] is not None  # calibrated before the refit, on the tail
    cli("rollout", data, "-m", tmp_path / "run", "-H", "6", "-o", tmp_path / "f.csv")
    assert np.isfinite(pd.read_csv(tmp_path / "f.csv").select_dtypes("number")).all().all()
    with pytest.raises(ConfigError, match="training.refit"):
        config_from_dict({**BASE, "training": {"refit": True, "validation": 0}})


def test_members_after_the_first_train_in_the_refit_only(tmp_path, cli):
    """training.ensemble_validation: first: one model is early-stopped on the tail (and
    calibrates the intervals); all three members are then refit for its epoch count, from
    their own seeds, and the saved model is their median."""
    import json

    data = _levels_csv(tmp_path / "levels.csv", lengths=(40, 40), levels=(5.0, 500.0))
    cfg = write_yaml(tmp_path / "r.yaml", {
        "data": {"scaling": "mean", "scale_per_series": True},
        "window": {"look_back": 12, "horizon": 4},
        "model": {"layers": [{"units": 3}], "residual": "last_value", "normalize": "window"},
        "training": {"epochs": 4, "validation": 4, "refit": True, "ensemble": 3,
                     "ensemble_validation": "first", "jit_compile": False}})
    result = cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--json")
    doc = json.loads(result.stdout)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert "member" not in history.columns  # one model before the refit
    best = int(history.loc[history.val_loss.idxmin(), "epoch"])
    assert doc["training"]["refit"]["epochs"] == [best] * 3
    assert any("the others train in the refit only" in n for n in doc["notes"])
    from lstmcli.runs.bundle import load_bundle

    model = load_bundle(tmp_path / "run").model
    members = [layer for layer in model.layers if layer.name.startswith("member_")]
    assert len(members) == 3
    weights = [np.concatenate([w.ravel() for w in m.get_weights()]) for m in members]
    assert not np.allclose(weights[0], weights[1])  # own seeds, not three copies
    cli("rollout", data, "-m", tmp_path / "run", "-H", "6", "-o", tmp_path / "f.csv")
    assert np.isfinite(pd.read_csv(tmp_path / "f.csv").select_dtypes("number")).all().all()
    with pytest.raises(ConfigError, match="ensemble_validation"):
        config_from_dict({**BASE, "training": {"ensemble": 2, "ensemble_validation": "first"}})


def test_linear_skip_feeds_the_window_to_the_head():
    cfg = config_from_dict({**BASE, "model": {**BASE["model"], "linear_skip": True}})
    model = build_model(cfg.model, look_back=6, n_features=2, horizon=3, n_targets=1,
                        first_input=[0])
    head = model.get_layer("head")
    assert head.kernel.shape == (4 + 6 * 2, 3)  # the LSTM's 4 units and the 6 x 2 window
    with pytest.raises(ConfigError, match="model.linear_skip"):
        config_from_dict({"window": {"look_back": 6},
                          "model": {"layers": [{"units": 2}], "linear_skip": True,
                                    "topology": "many_to_many"}})


def test_plateau_schedule_halves_the_learning_rate(tmp_path, cli):
    data = _levels_csv(tmp_path / "levels.csv", lengths=(40, 40), levels=(5.0, 500.0))
    cfg = write_yaml(tmp_path / "p.yaml", {
        "window": {"look_back": 12, "horizon": 4},
        "model": {"layers": [{"units": 2}]},
        "training": {"epochs": 8, "validation": 4, "loss": "mae",
                     "optimizer": {"learning_rate": 5.0, "schedule": "plateau"},
                     "early_stopping": {"enabled": False}, "jit_compile": False}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run")
    rates = pd.read_csv(tmp_path / "run" / "history.csv")["learning_rate"].to_numpy()
    assert rates[0] == 5.0 and rates.min() < 5.0  # a rate of 5 stalls: halved at least once
    assert set(np.round(np.log2(5.0 / rates), 6)) <= set(range(7))  # halvings, >= 5/64
