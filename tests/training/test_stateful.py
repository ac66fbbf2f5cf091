"""Stateful training and inference: the four proofs, plus layout, resets and batch sizes."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, long_csv, wide_csv, write_yaml
from lstmcli.config import config_from_dict
from lstmcli.training.windows import PAD, chunk_layout, left_pad, split_segments

STATEFUL = {
    "window": {"look_back": 5},
    "model": {"topology": "many_to_many", "layers": [{"units": 6}, {"units": 4}]},
    "training": {"mode": "stateful", "batch_size": 8, "epochs": 2, "validation": 0.2,
                 "seed": 3},
}


def _models(config, *, batch, n_features=2, n_targets=2):
    """A stateless many_to_many model and a stateful twin with the same weights."""
    from lstmcli.models.topology import build_model

    kw = dict(look_back=5, n_features=n_features, horizon=1, n_targets=n_targets)
    stateless = build_model(config.model, **kw)
    stateful = build_model(config.model, **kw, stateful=True, batch_size=batch)
    stateful.set_weights(stateless.get_weights())
    return stateless, stateful


# ------------------------------------------------------------------ pure layout


def test_chunk_layout_rows_continue_across_batches():
    rows = [np.arange(11.0)[:, None] + 100 * i for i in range(3)]
    lay = chunk_layout(rows, batch_size=2, chunk_length=5, feature_idx=[0], target_idx=[0])
    assert (lay.chunks, lay.groups, lay.rows) == (2, 2, 3) and lay.X.shape == (8, 5, 1)
    batch = lambda b: lay.X[b * 2:(b + 1) * 2, :, 0]  # noqa: E731
    np.testing.assert_array_equal(batch(0), [[0, 1, 2, 3, 4], [100, 101, 102, 103, 104]])
    np.testing.assert_array_equal(batch(1), [[5, 6, 7, 8, 9], [105, 106, 107, 108, 109]])
    np.testing.assert_array_equal(batch(2)[0], [200, 201, 202, 203, 204])
    assert (batch(2)[1] == PAD).all() and lay.weight[5].sum() == 0  # a masked padding row
    np.testing.assert_array_equal(lay.Y[0, :, 0], [1, 2, 3, 4, 5])  # next-step targets


def test_chunk_layout_left_pads_shorter_rows():
    rows = [np.arange(11.0)[:, None], np.arange(7.0)[:, None]]
    lay = chunk_layout(rows, batch_size=2, chunk_length=5, feature_idx=[0], target_idx=[0])
    assert lay.padded_steps == 4
    np.testing.assert_array_equal(lay.weight[1], [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(lay.X[3, :, 0], [1, 2, 3, 4, 5])
    assert (lay.Y[1][lay.weight[1] == 0] == 0).all()  # no PAD ever reaches the loss


def test_split_segments_covers_every_transition_once():
    segs, trimmed = split_segments(np.arange(23.0)[:, None], 4)
    assert trimmed == 2 and [len(s) for s in segs] == [6, 6, 6, 6]
    transitions = {(a, b) for s in segs for a, b in zip(s[:-1, 0], s[1:, 0], strict=True)}
    assert transitions == {(float(t), float(t + 1)) for t in range(2, 22)}


# ---------------------------------------------------------------- proofs 1 and 2


def test_proof1_chunked_stateful_equals_stateless_whole_sequence():
    from lstmcli.models.topology import reset_states

    cfg = config_from_dict(STATEFUL)
    stateless, stateful = _models(cfg, batch=3)
    x = np.random.default_rng(0).normal(size=(3, 60, 2)).astype("float32")
    whole = stateless.predict_on_batch(x)
    reset_states(stateful)
    chunked = np.concatenate([stateful.predict_on_batch(x[:, k:k + 10]) for k in range(0, 60, 10)],
                             axis=1)
    assert np.abs(whole - chunked).max() <= 1e-5
    # the same through the training layout, batch by batch, resetting every `chunks` batches
    lay = chunk_layout([x[i] for i in range(3)] + [x[0][:31]], batch_size=2, chunk_length=6,
                       feature_idx=[0, 1], target_idx=[0, 1])
    _, batch2 = _models(cfg, batch=2)
    batch2.set_weights(stateless.get_weights())
    outs = []
    for b in range(lay.batches):
        if b % lay.chunks == 0:
            reset_states(batch2)
        outs.append(batch2.predict_on_batch(lay.X[b * 2:(b + 1) * 2]))
    # row 0 of group 0 is series 0: reassemble its chunks (drop the 1 padding step in front)
    row0 = np.concatenate([outs[k][0] for k in range(lay.chunks)])[-59:]
    assert np.abs(row0 - whole[0, :59]).max() <= 1e-5
    row3 = np.concatenate([outs[lay.chunks + k][1] for k in range(lay.chunks)])[-30:]
    short = stateless.predict_on_batch(x[:1, :30])[0]
    assert np.abs(row3 - short).max() <= 1e-5  # left padding is masked: as if run alone


def test_proof2_reset_gives_a_fresh_models_outputs():
    from lstmcli.models.topology import reset_states

    cfg = config_from_dict(STATEFUL)
    _, used = _models(cfg, batch=2)
    x = np.random.default_rng(1).normal(size=(2, 7, 2)).astype("float32")
    first = used.predict_on_batch(x)
    second = used.predict_on_batch(x)
    assert np.abs(first - second).max() > 1e-3  # the state carried over
    reset_states(used)
    _, fresh = _models(cfg, batch=2)
    fresh.set_weights(used.get_weights())
    np.testing.assert_allclose(used.predict_on_batch(x), fresh.predict_on_batch(x), atol=1e-6)


# -------------------------------------------------------------- resets in training


def test_state_is_reset_at_row_group_starts_and_nowhere_else(tmp_path):
    from lstmcli.api import stateful_layout
    from lstmcli.data.read import read_series
    from lstmcli.models.backend import import_keras
    from lstmcli.models.topology import build_model
    from lstmcli.training.fit import fit

    keras = import_keras()
    data = long_csv(tmp_path / "l.csv", lengths=(30, 26, 22))
    cfg = config_from_dict({**STATEFUL, "training": {**STATEFUL["training"], "batch_size": 2}})
    frame = read_series(data, cfg.data)
    _, td, notes = stateful_layout(frame, cfg)
    begins, ends, at_epoch_end = [], [], []

    def state(model):
        return [np.asarray(v).copy() for v in model.get_layer("lstm_0").states]

    class Spy(keras.callbacks.Callback):  # runs after the reset callback
        def on_train_batch_begin(self, batch, logs=None):
            begins.append((batch, state(self.model)))

        def on_train_batch_end(self, batch, logs=None):
            ends.append(state(self.model))

        def on_epoch_end(self, epoch, logs=None):  # after the validation pass
            at_epoch_end.append(all(np.array_equal(a, b)
                                    for a, b in zip(ends[-1], state(self.model), strict=True)))

    td.callbacks.append(Spy())
    model = build_model(cfg.model, look_back=5, n_features=1, horizon=1, n_targets=1,
                        stateful=True, batch_size=2)
    fit(model, td, cfg.training, epochs=2)
    chunks = -(-(24 - 1) // 5)  # the longest series has 24 training rows
    assert len(begins) == 2 * 2 * chunks  # 2 epochs x 2 row groups x chunks
    for i, (batch, h) in enumerate(begins):
        if batch % chunks == 0:  # a row group starts: zero state
            assert all(not v.any() for v in h), batch
        else:  # otherwise exactly where the previous batch left it
            assert all(np.array_equal(a, b) for a, b in zip(h, ends[i - 1], strict=True)), batch
    assert any(v.any() for _, h in begins for v in h)  # the state did move
    assert at_epoch_end == [True, True]  # validation ran on its own state
    assert any("padding row" in n for n in notes)


# ------------------------------------------------------------------------ proof 3


def _latch_csv(path, n=2000, p=0.1):
    """x: mostly 0, now and then +1/-1 (an event). y_t: the sign of the last event before t.
    The answer often depends on an input many more steps back than a chunk."""
    rng = np.random.default_rng(0)
    event = rng.random(n) < p
    x = np.where(event, rng.choice([-1.0, 1.0], n), 0.0)
    latch, cur = np.empty(n), 1.0
    for t in range(n):
        cur = x[t] if event[t] else cur
        latch[t] = cur
    y = np.concatenate([[1.0], latch[:-1]])
    pd.DataFrame({"x": x, "y": y}).to_csv(path, index=False)
    return path, float(y.var())


def test_proof3_state_carries_what_a_window_cannot_see(cli, tmp_path):
    import json

    data, variance = _latch_csv(tmp_path / "latch.csv")
    base = {"data": {"features": ["x"], "targets": ["y"], "scaling": "none"},
            "window": {"look_back": 4},
            "model": {"topology": "many_to_many", "layers": [{"units": 8}]},
            "training": {"batch_size": 16, "epochs": 25, "validation": 0.2, "seed": 0,
                         "optimizer": {"learning_rate": 0.01},
                         "early_stopping": {"enabled": False}}}
    losses = {}
    for mode in ("stateful", "stateless"):
        doc = {**base, "training": {**base["training"], "mode": mode}}
        cli("train", data, "-c", write_yaml(tmp_path / f"{mode}.yaml", doc), "-o",
            tmp_path / mode, "-q")
        meta = json.loads((tmp_path / mode / "bundle.json").read_text())
        losses[mode] = meta["training"]["best_loss"]
    assert losses["stateful"] < 0.1 * variance, losses
    assert losses["stateless"] > 0.5 * variance, losses


# ------------------------------------------------------------------------ proof 4


FORECASTS = ["a_forecast", "b_forecast"]


@pytest.fixture(scope="module")
def stateful_run(tmp_path_factory):
    from typer.testing import CliRunner

    from lstmcli.cli import app

    root = tmp_path_factory.mktemp("stateful")
    data = wide_csv(root / "two.csv", n=60, columns=("a", "b"))
    cfg = write_yaml(root / "s.yaml", STATEFUL)
    result = CliRunner().invoke(app, ["train", str(data), "-c", str(cfg), "-o",
                                      str(root / "run"), "-q"])
    assert result.exit_code == 0, result.stderr
    return root, data


def _three_series(root, data):
    """The same two columns as three series of different lengths, in long format."""
    df = pd.read_csv(data)
    parts = [df.iloc[:60].assign(unique_id="p"), df.iloc[10:50].assign(unique_id="q"),
             df.iloc[:33].assign(unique_id="r")]
    path = root / "three.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def _reference_rollout(bundle, rows, horizon):
    """Batch 1, one step per call: warm up on the history, then feed predictions back."""
    from lstmcli.models.topology import reset_states
    from lstmcli.training.stateful import inference_twin

    out = []
    for row in rows:
        twin = inference_twin(bundle.config, n_rows=1, n_features=2, n_targets=2,
                              weights=bundle.model.get_weights())
        reset_states(twin)
        for t in range(len(row)):
            y = twin.predict_on_batch(row[None, t:t + 1].astype("float32"))
        preds = [y[0, 0]]
        for _ in range(horizon - 1):
            y = twin.predict_on_batch(y)
            preds.append(y[0, 0])
        out.append(bundle.scaler.inverse(np.array(preds), [0, 1]))
    return out


@pytest.mark.parametrize("n_series", [1, 3])
def test_proof4_trained_at_batch_8_rolls_out_at_batch_1_and_3(stateful_run, n_series):
    from lstmcli.api import predict, rollout
    from lstmcli.data.read import read_series
    from lstmcli.runs.bundle import load_bundle

    root, data = stateful_run
    csv = data if n_series == 1 else _three_series(root, data)
    bundle = load_bundle(root / "run")
    assert bundle.model.inputs[0].shape[0] == 8  # saved at its training batch size
    table, _ = rollout(csv, root / "run", horizon=6)
    frame = read_series(csv, bundle.config.data)
    assert len(table) == 6 * n_series
    rows = [bundle.scaler.transform(s.values) for s in frame.series]
    for s, ref in zip(frame.series, _reference_rollout(bundle, rows, 6), strict=True):
        got = table[table["unique_id"] == s.id] if n_series > 1 else table
        np.testing.assert_allclose(got[FORECASTS].to_numpy(), ref, rtol=1e-4, atol=1e-5)
    last, _ = predict(csv, root / "run", last=True)
    assert len(last) == n_series  # exactly one row per series, never a broadcast batch
    np.testing.assert_allclose(last[FORECASTS].to_numpy(),
                               table.groupby(table.get("unique_id", pd.Series(0, table.index)),
                                             sort=False).head(1)[FORECASTS].to_numpy(),
                               rtol=1e-5)


def test_predict_every_step_with_the_state_carried(stateful_run, cli):
    root, data = stateful_run
    result = cli("predict", _three_series(root, data), "-m", root / "run")
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table.groupby("unique_id").size().to_dict() == {"p": 59, "q": 39, "r": 32}
    assert list(table.columns) == ["unique_id", "date", *FORECASTS, "a_actual", "b_actual"]
    # no intervals, and a note says why (once)
    assert result.stderr.count("no prediction intervals: stateful runs are not calibrated") == 1


def test_a_wrong_batch_is_refused_not_broadcast():
    from lstmcli.errors import ModelError
    from lstmcli.training.stateful import check_rows

    cfg = config_from_dict(STATEFUL)
    _, model = _models(cfg, batch=4)
    with pytest.raises(ModelError, match="batch size 4 was about to be fed 3 rows"):
        check_rows(model, left_pad([np.zeros((5, 2))] * 3))


# ------------------------------------------------------------- configs and hints


def test_tutorial_setting_trains_and_hints(cli, tmp_path):
    """look_back 3, LSTM(4), batch 1, stateful, many-to-one: works, and says how to go faster."""
    doc = {"window": {"look_back": 3}, "model": {"layers": [{"units": 4}]},
           "training": {"mode": "stateful", "batch_size": 1, "epochs": 1, "validation": 0.1}}
    data = wide_csv(tmp_path / "long.csv", n=300)
    result = cli("train", data, "-c", write_yaml(tmp_path / "t.yaml", doc), "-o",
                 tmp_path / "run")
    assert "training.batch_size: 16 would split the series" in result.stderr
    table = pd.read_csv(io.StringIO(cli("rollout", data, "-m", tmp_path / "run", "-H",
                                        "4").stdout))
    assert len(table) == 4 and table["y_forecast"].notna().all()


def test_stateful_needs_one_step_horizon():
    from lstmcli.errors import ConfigError

    with pytest.raises(ConfigError, match="window.horizon: training.mode: stateful predicts "
                                          "one step at a time"):
        config_from_dict({**STATEFUL, "window": {"look_back": 5, "horizon": 3},
                          "model": {"layers": [{"units": 4}]}})


@pytest.mark.parametrize("config, data", [("stateful.yaml", "sensors.csv"),
                                          ("stateful_single.yaml", "tanks.csv")])
def test_shipped_stateful_configs(cli, tmp_path, config, data):
    csv = REPO / "sample_data" / data
    result = cli("train", csv, "-c", REPO / "configs" / config, "-o", tmp_path / "run",
                 "--epochs", "1")
    assert "stateful layout" in result.stderr
    table = pd.read_csv(io.StringIO(cli("rollout", csv, "-m", tmp_path / "run", "-H",
                                        "5").stdout))
    n_series = 4 if data == "sensors.csv" else 1
    assert len(table) == 5 * n_series
