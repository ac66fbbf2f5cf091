"""Every topology: output shapes as documented, every shipped config end to end, inspect
counts equal Keras's, the seq2seq decoder really uses the encoder's states, variable length."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, TINY, long_csv, write_yaml
from lstmcli.config import config_from_dict
from lstmcli.errors import ConfigError

# Every config in configs/ and the sample data it is made for.
CONFIG_DATA = {
    "quickstart.yaml": "airline_passengers.csv",
    "multivariate.yaml": "tanks.csv",
    "many_to_many.yaml": "airline_passengers.csv",
    "direct.yaml": "airline_passengers.csv",
    "one_to_many.yaml": "tanks.csv",
    "seq2seq.yaml": "tanks.csv",
    "gru.yaml": "tanks.csv",
    "stacked.yaml": "tanks.csv",
    "variable_length.yaml": "sensors.csv",
    "stateful.yaml": "sensors.csv",
    "stateful_single.yaml": "tanks.csv",
}


def test_every_shipped_config_is_listed_here():
    assert sorted(p.name for p in (REPO / "configs").glob("*.yaml")) == sorted(CONFIG_DATA)


@pytest.mark.parametrize("name", [n for n in CONFIG_DATA
                                  if n not in ("quickstart.yaml", "multivariate.yaml",
                                               "stateful.yaml", "stateful_single.yaml")])
def test_topology_configs_train_predict_and_roll_out(cli, tmp_path, name):
    """(quickstart, multivariate and the stateful configs run in test_cli / test_stateful.)"""
    csv, cfg = REPO / "sample_data" / CONFIG_DATA[name], REPO / "configs" / name
    cli("train", csv, "-c", cfg, "-o", tmp_path / "run", "--epochs", "1", "-q")
    n_series = pd.read_csv(csv).get("unique_id", pd.Series(["one"])).nunique()
    pred = pd.read_csv(io.StringIO(cli("predict", csv, "-m", tmp_path / "run", "--last").stdout))
    assert len(pred) >= n_series and pred.notna().all().all()
    roll = pd.read_csv(io.StringIO(cli("rollout", csv, "-m", tmp_path / "run", "-H", "15").stdout))
    assert len(roll) == 15 * n_series and roll.notna().all().all()
    info = cli.json("inspect", "-m", tmp_path / "run")
    assert info["total_params"] == sum(r["params"] for r in info["layers"])


@pytest.mark.parametrize("topology, horizon, expected", [
    ("many_to_one", 3, (None, 3, 2)),
    ("direct", 3, (None, 3, 2)),
    ("many_to_many", 1, (None, None, 2)),
    ("one_to_many", 4, (None, 4, 2)),
    ("seq2seq", 4, (None, 4, 2)),
])
def test_output_shapes_are_the_documented_ones(topology, horizon, expected):
    from lstmcli.models.topology import build_model

    cfg = config_from_dict({"window": {"look_back": 6, "horizon": horizon},
                            "model": {"topology": topology,
                                      "layers": [{"units": 5}, {"units": 3}]}})
    model = build_model(cfg.model, look_back=6, n_features=2, horizon=horizon, n_targets=2,
                        first_input=[0, 1])
    assert tuple(model.outputs[0].shape) == expected
    x = np.random.default_rng(0).normal(size=(7, 6, 2)).astype("float32")
    assert model.predict(x, verbose=0).shape == (7, 6 if expected[1] is None else expected[1], 2)


@pytest.mark.parametrize("name", sorted(CONFIG_DATA))
def test_inspect_counts_equal_keras(name):
    from lstmcli.api import describe_config
    from lstmcli.config import load_config
    from lstmcli.models.topology import build_model

    path = REPO / "configs" / name
    info = describe_config(config=path, n_features=2)
    cfg = load_config(path)
    n = len(cfg.data.features or ["a", "b"])
    t = len(cfg.data.targets or cfg.data.features or ["a", "b"])
    model = build_model(cfg.model, look_back=cfg.window.look_back, n_features=n,
                        horizon=cfg.window.horizon, n_targets=t,
                        stateful=cfg.training.mode == "stateful",
                        batch_size=cfg.training.batch_size, masking=cfg.window.padding)
    assert info["total_params"] == model.count_params()
    assert sum(r["params"] for r in info["layers"]) == model.count_params()
    for row in info["layers"]:
        if row["formula"]:
            assert row["formula"].split("=")[-1].split()[0] == str(row["params"])


def test_inspect_reports_relu_off_cudnn(cli, tmp_path):
    doc = {"window": {"look_back": 3},
           "model": {"layers": [{"units": 4, "activation": "relu"}, {"type": "gru", "units": 2}]}}
    info = cli.json("inspect", "-c", write_yaml(tmp_path / "r.yaml", doc))
    lstm, gru = (r for r in info["layers"] if "cudnn" in r)
    assert lstm["cudnn"] is False and "activation is relu, not tanh" in lstm["cudnn_reason"]
    assert gru["cudnn"] is True
    assert lstm["formula"] == "4·4·(4 + 1 + 1) = 96"
    text = cli("inspect", "-c", tmp_path / "r.yaml").stderr
    assert "[batch, time_steps, features] = [None, 3, 1]" in text
    cli("inspect", code=2)  # neither --config nor --model


def test_seq2seq_decoder_starts_from_the_encoder_states():
    from lstmcli.models.topology import build_model

    cfg = config_from_dict({"window": {"look_back": 6, "horizon": 4},
                            "model": {"topology": "seq2seq",
                                      "layers": [{"units": 5}, {"units": 3}]}})
    model = build_model(cfg.model, look_back=6, n_features=1, horizon=4, n_targets=1,
                        first_input=[0])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 1)).astype("float32")
    other = x.copy()
    other[:, :-1] = rng.normal(size=(2, 5, 1))  # same last step, different history
    before = model.predict(x, verbose=0)
    assert np.abs(before - model.predict(other, verbose=0)).max() > 1e-4  # history matters
    for name in ("encoder_0", "encoder_1"):  # zero weights -> zero final states
        layer = model.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    zeroed = model.predict(x, verbose=0)
    assert np.abs(before - zeroed).max() > 1e-4  # the decoder read the states
    # with zero states only the last step reaches the decoder: history no longer matters
    np.testing.assert_allclose(zeroed, model.predict(other, verbose=0), atol=1e-6)


def test_seq2seq_teacher_forcing_saves_a_free_running_model(cli, tmp_path):
    from lstmcli.runs.bundle import load_bundle

    csv = REPO / "sample_data" / "tanks.csv"
    cli("train", csv, "-c", REPO / "configs" / "seq2seq.yaml", "-o", tmp_path / "run",
        "--epochs", "1", "-q")
    model = load_bundle(tmp_path / "run").model
    assert len(model.inputs) == 1 and tuple(model.outputs[0].shape) == (None, 12, 2)


@pytest.mark.parametrize("doc, fragment", [
    ({"topology": "seq2seq", "layers": [{"units": 4}], "decoder": [{"units": 5}]},
     "model.decoder[0]: it starts from the states of model.layers[0], so it must be type lstm "
     "with 4 units"),
    ({"topology": "seq2seq", "layers": [{"units": 4}],
      "decoder": [{"units": 4, "bidirectional": True}]}, "model.decoder[0].bidirectional"),
    ({"topology": "many_to_many", "layers": [{"units": 4, "bidirectional": True}]},
     "model.layers[0].bidirectional: a backward pass would let every step see the future"),
    ({"layers": [{"units": 4}], "teacher_forcing": True},
     "model.teacher_forcing: only used with model.topology: seq2seq"),
    ({"layers": [{"type": "simple_rnn", "units": 4, "recurrent_activation": "sigmoid"}]},
     "simple_rnn has no gates"),
])
def test_wrong_combinations_fail_with_the_fix(doc, fragment):
    horizon = 1 if doc.get("topology") == "many_to_many" else 2
    with pytest.raises(ConfigError) as err:
        config_from_dict({"window": {"look_back": 4, "horizon": horizon}, "model": doc})
    assert fragment in str(err.value)


@pytest.mark.parametrize("padding", [False, True])
def test_variable_length_predicts_any_length_like_the_whole_sequence(cli, tmp_path, padding):
    from lstmcli.runs.bundle import load_bundle

    data = long_csv(tmp_path / "l.csv", lengths=(30, 25, 25, 20))
    doc = {"window": {"look_back": None, "padding": padding},
           "model": {"topology": "many_to_many", "layers": [{"units": 4}]},
           "training": {**TINY["training"], "batch_size": 2}}
    result = cli("train", data, "-c", write_yaml(tmp_path / "v.yaml", doc), "-o",
                 tmp_path / "run")
    assert ("padded to the longest" in result.stderr) == padding
    assert ("3 batch(es)" if not padding else "2 batch(es)") in result.stderr
    table = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "run").stdout))
    assert table.groupby("unique_id").size().to_dict() == {"s0": 29, "s1": 24, "s2": 24, "s3": 19}
    bundle = load_bundle(tmp_path / "run")  # reference: the saved model over each whole series
    raw = pd.read_csv(data)
    for sid, g in raw.groupby("unique_id"):
        x = bundle.scaler.transform(g[["y"]].to_numpy())[None].astype("float32")
        ref = bundle.scaler.inverse(bundle.model.predict(x, verbose=0)[0, :-1], [0])[:, 0]
        if g["y"].min() >= 0:  # a series never negative: its forecasts stop at 0
            ref = np.maximum(ref, 0.0)
        np.testing.assert_allclose(table[table.unique_id == sid]["y_forecast"], ref, rtol=1e-4,
                                   atol=1e-4)
    refused = cli("window", data, "-c", tmp_path / "v.yaml", code=3)
    assert "no fixed windows to cut" in refused.stderr and refused.stdout == ""


def test_damping_matrix_damps_each_season_over_the_one_before():
    from lstmcli.models.topology import damping_matrix

    f = np.arange(1.0, 7.0)  # a trend of 1 a step, season 2
    np.testing.assert_allclose(damping_matrix(6, 2, 0.5) @ f, [1, 2, 2, 3, 2.5, 3.5])
    np.testing.assert_allclose(damping_matrix(6, 2, 1.0) @ f, f)  # 1: unchanged
    np.testing.assert_allclose(damping_matrix(6, 2, 0.0) @ f, [1, 2, 1, 2, 1, 2])  # 0: repeat
    np.testing.assert_allclose(damping_matrix(4, 1, 0.5) @ f[:4], [1, 1.5, 1.75, 1.875])
    seasonal = np.tile([5.0, 1.0, 3.0], 3)  # no change from season to season: kept as is
    np.testing.assert_allclose(damping_matrix(9, 3, 0.3) @ seasonal, seasonal, rtol=1e-6)


def test_damping_applies_when_forecasting_not_in_training(tmp_path):
    import keras

    from lstmcli.models.topology import build_model, damping_matrix

    cfg = config_from_dict({"window": {"look_back": 6, "horizon": 6},
                            "model": {"layers": [{"units": 3}], "residual": "last_value",
                                      "normalize": "window", "season": 2, "damping": 0.5}})
    model = build_model(cfg.model, look_back=6, n_features=1, horizon=6, n_targets=1,
                        first_input=[0])
    x = np.random.default_rng(0).uniform(1, 2, size=(5, 6, 1)).astype("float32")
    raw = keras.ops.convert_to_numpy(model(x, training=True))
    damped = model.predict(x, verbose=0)
    expected = np.einsum("kj,bjt->bkt", damping_matrix(6, 2, 0.5), raw)
    np.testing.assert_allclose(damped, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(damped, raw)
    model.save(tmp_path / "m.keras")  # saved and loaded by name, with its settings
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(again.predict(x, verbose=0), damped, rtol=1e-5, atol=1e-6)


def test_damping_needs_a_horizon_emitted_at_once():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"window": {"look_back": 4, "horizon": 1},
                          "model": {"topology": "many_to_many", "layers": [{"units": 4}],
                                    "damping": 0.5}})
    assert "model.damping: 0.5 damps a forecast of window.horizon steps" in str(err.value)
