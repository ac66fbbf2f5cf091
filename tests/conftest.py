"""Shared fixtures: tiny seeded CSVs, tiny configs, and one trained run reused by many tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lstmcli.cli import app

REPO = Path(__file__).resolve().parent.parent
RUN_FILES = ["bundle.json", "config.yaml", "history.csv", "model.keras"]  # a finished run

TINY = {
    "window": {"look_back": 4},
    "model": {"layers": [{"units": 4}]},
    "training": {"epochs": 2, "batch_size": 8, "validation": 0.2, "seed": 1},
}


def write_yaml(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def wide_csv(path: Path, n: int = 40, *, freq: str = "D", start: str = "2024-01-01",
             columns=("y",)) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    data = {"date": pd.date_range(start, periods=n, freq=freq).strftime("%Y-%m-%d %H:%M:%S")}
    for k, c in enumerate(columns):
        data[c] = np.round(10 + 3 * np.sin(t / 3 + k) + rng.normal(0, 0.1, n), 4)
    pd.DataFrame(data).to_csv(path, index=False)
    return path


def long_csv(path: Path, lengths=(30, 25, 20)) -> Path:
    rng = np.random.default_rng(1)
    frames = []
    for k, n in enumerate(lengths):
        frames.append(pd.DataFrame({
            "unique_id": f"s{k}", "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
            "y": np.round(5 * k + np.sin(np.arange(n) / 2) + rng.normal(0, 0.1, n), 4)}))
    pd.concat(frames).to_csv(path, index=False)
    return path


def create_dataset(dataset, look_back=1):
    """The widely copied tutorial function, verbatim in behaviour (note the `- 1`)."""
    data_x, data_y = [], []
    for i in range(len(dataset) - look_back - 1):
        data_x.append(dataset[i:(i + look_back), 0])
        data_y.append(dataset[i + look_back, 0])
    return np.array(data_x), np.array(data_y)


class Cli:
    """Run the CLI in-process with stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args, code: int = 0):
        result = self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == code, (
            f"exit {result.exit_code} != {code}\nstdout:\n{result.stdout}\n"
            f"stderr:\n{result.stderr}")
        return result

    def json(self, *args):
        return json.loads(self(*args, "--json").stdout)


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (make test): one worker per core, at most 8. Every worker imports TensorFlow
    and uses all cores for its own ops, so more workers than that only contend."""
    return max(1, min(os.cpu_count() or 1, 8))


@pytest.fixture(autouse=True)
def _fresh_keras_session(request):
    """Each stateful test ends with a clean Keras session: the graphs and compiled functions
    of earlier stateful tests otherwise pile up (one took 59 s in the suite and 10 s alone).
    Only those: clearing after every test made the rest of the suite about 10% slower."""
    yield
    keras = sys.modules.get("keras")
    if keras is not None and "stateful" in request.node.nodeid:
        keras.backend.clear_session()


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def trained(tmp_path_factory, cli):
    """One tiny model trained on a daily univariate series, shared by predict/rollout tests."""
    root = tmp_path_factory.mktemp("trained")
    data = wide_csv(root / "daily.csv")
    cfg = write_yaml(root / "tiny.yaml", TINY)
    run = root / "run"
    cli("train", data, "--config", cfg, "--out", run, "--quiet")
    return {"data": data, "config": cfg, "run": run, "root": root}
