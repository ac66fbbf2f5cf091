"""The fast training path (XLA, batches cut on the fly) gives the same results as the plain one."""

import numpy as np
import pytest

from conftest import TINY, long_csv
from lstmcli.config import config_from_dict


def _train(data, doc, *, jit):
    from lstmcli.api import split_windows, stateful_layout
    from lstmcli.data.read import read_series
    from lstmcli.models.topology import build_model
    from lstmcli.training.fit import fit, seed_everything

    cfg = config_from_dict(doc)
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(
        update={"jit_compile": jit})})
    frame = read_series(data, cfg.data)
    seed_everything(cfg.training.seed)
    stateful = cfg.training.mode == "stateful"
    _, td, _ = (stateful_layout if stateful else split_windows)(frame, cfg)
    model = build_model(cfg.model, look_back=cfg.window.look_back, n_features=1,
                        horizon=cfg.window.horizon, n_targets=1, stateful=stateful,
                        batch_size=cfg.training.batch_size)
    result = fit(model, td, cfg.training)
    return model, result


@pytest.mark.parametrize("doc", [
    TINY,
    {**TINY, "model": {"topology": "many_to_many", "layers": [{"units": 4}, {"type": "gru",
                                                                             "units": 3}]}},
    {**TINY, "model": {"topology": "many_to_many", "layers": [{"units": 4}]},
     "training": {**TINY["training"], "mode": "stateful", "batch_size": 2}},
], ids=["many_to_one", "many_to_many+gru", "stateful"])
def test_xla_matches_the_default_step(tmp_path, doc):
    data = long_csv(tmp_path / "l.csv")
    fast, fast_result = _train(data, doc, jit=True)
    assert fast.jit_compile is True  # XLA really on (Keras silently drops it in some setups)
    plain, plain_result = _train(data, doc, jit=False)
    assert len(fast_result.history) == len(plain_result.history)
    np.testing.assert_allclose([r["loss"] for r in fast_result.history],
                               [r["loss"] for r in plain_result.history], rtol=1e-4)
    for a, b in zip(fast.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
