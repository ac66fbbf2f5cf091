"""Scalers: fitted on training rows only; per-series scaling for series of different levels."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from conftest import TINY, write_yaml
from lstmcli.data.scaling import Scaler


def test_per_series_parameters_round_trip_and_fall_back_to_pooled():
    rows = {"a": np.array([[0.0], [10.0]]), "b": np.array([[100.0], [300.0]])}
    scaler = Scaler.fit_per_series("minmax", ["y"], rows)
    np.testing.assert_allclose(scaler.of("a").transform(np.array([[5.0]])), [[0.5]])
    np.testing.assert_allclose(scaler.of("b").transform(np.array([[200.0]])), [[0.5]])
    np.testing.assert_allclose(scaler.of("new").transform(np.array([[150.0]])), [[0.5]])
    again = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_allclose(again.of("b").inverse(np.array([[0.25]]), [0]), [[150.0]])
    assert Scaler.fit("minmax", ["y"], rows["a"]).of("a").series == {}


def test_series_of_very_different_levels(tmp_path, cli):
    """Two series a thousand times apart: with per-series scaling each is forecast near its
    own level by one global model."""
    t = np.arange(60)
    frames = [pd.DataFrame({"unique_id": sid, "ds": pd.date_range("2024-01-01", periods=60),
                            "y": level * (1 + 0.1 * np.sin(t / 3))})
              for sid, level in (("small", 10.0), ("large", 10_000.0))]
    data = tmp_path / "long.csv"
    pd.concat(frames).to_csv(data, index=False)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "data": {"scale_per_series": True}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    meta = json.loads((tmp_path / "run" / "bundle.json").read_text())
    assert set(meta["scaler"].get("series", {})) == {"small", "large"}
    table = pd.read_csv(io.StringIO(cli("rollout", data, "-m", tmp_path / "run", "-H",
                                        "3").stdout))
    level = table.groupby("unique_id")["y_forecast"].mean()
    assert 7 < level["small"] < 13 and 7_000 < level["large"] < 13_000
    preds = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "run").stdout))
    err = (preds["y_forecast"] - preds["y_actual"]).abs() / preds["y_actual"]
    assert err.groupby(preds["unique_id"]).median().max() < 0.2
    # a series the run never saw has no scaler: it is scaled by its own rows, with a note
    new = frames[1].assign(unique_id="new", y=frames[1]["y"] / 100)  # at 100
    pd.concat([*frames, new]).to_csv(tmp_path / "more.csv", index=False)
    result = cli("rollout", tmp_path / "more.csv", "-m", tmp_path / "run", "-H", "3")
    assert "1 series not in the training data ('new')" in result.stderr
    level = pd.read_csv(io.StringIO(result.stdout)).groupby("unique_id")["y_forecast"].mean()
    assert 70 < level["new"] < 130, level
