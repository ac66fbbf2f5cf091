"""The compiled loops give the same numbers as the step-by-step reference loops."""

import numpy as np
import pytest

from lstmcli.config import config_from_dict
from lstmcli.forecast.loops import predict_batches, stateful_rollout, window_rollout
from lstmcli.models.topology import build_model, reset_states
from lstmcli.training.windows import PAD

RNG = np.random.default_rng(7)


def _model(topology, *, horizon=1, features=2, targets=2, **kw):
    cfg = config_from_dict({"window": {"look_back": 6, "horizon": horizon},
                            "model": {"topology": topology,
                                      "layers": [{"units": 8}, {"units": 5}]}})
    return build_model(cfg.model, look_back=6, n_features=features, horizon=horizon,
                       n_targets=targets, **kw)


def _reference(model, x, *, horizon, feedback, per_step):
    """The tutorial loop: one predict per step, append, slide."""
    out = []
    while sum(o.shape[1] for o in out) < horizon:
        y = model.predict_on_batch(x)
        y = y[:, -1:, :] if per_step else y
        out.append(y)
        x = np.concatenate([x, y[..., feedback]], axis=1)[:, -x.shape[1]:]
    return np.concatenate(out, axis=1)[:, :horizon]


@pytest.mark.parametrize("topology, horizon", [("many_to_one", 1), ("many_to_one", 3),
                                               ("many_to_many", 1)])
def test_window_rollout_matches_the_step_loop(topology, horizon):
    model = _model(topology, horizon=horizon)
    x = RNG.normal(size=(5, 6, 2)).astype("float32")
    feedback = [1, 0]  # targets stored in the other order than the features
    per_step = topology == "many_to_many"
    got = window_rollout(model, x, horizon=20, feedback=feedback, per_step=per_step)
    ref = _reference(model, x, horizon=20, feedback=feedback, per_step=per_step)
    assert got.shape == (5, 20, 2)
    assert np.abs(got - ref).max() <= 1e-5


def test_stateful_rollout_matches_the_step_loop():
    model = _model("many_to_many", stateful=True, batch_size=3)
    history = RNG.normal(size=(3, 30, 2)).astype("float32")
    history[2, :9] = PAD  # a shorter series, padded in front
    reset_states(model)
    got = stateful_rollout(model, history, horizon=15, feedback=[0, 1])
    reset_states(model)
    y = model.predict_on_batch(history)[:, -1:, :]
    ref = [y]
    for _ in range(14):
        y = model.predict_on_batch(y)
        ref.append(y)
    assert np.abs(got - np.concatenate(ref, axis=1)).max() <= 1e-5


def test_predict_batches_matches_predict():
    model = _model("many_to_one", horizon=2)
    x = RNG.normal(size=(300, 6, 2)).astype("float32")
    got = predict_batches(model, iter([x[:128], x[128:]]))
    assert np.abs(got - model.predict(x, verbose=0)).max() <= 1e-5
