"""window.history: train only on each series' most recent windows (N-BEATS's history
limit), the same in training, in the refit on every row and in `lstmcli window`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import write_yaml
from lstmcli.config import DataSpec, config_from_dict
from lstmcli.data.read import read_series
from lstmcli.errors import ConfigError
from lstmcli.training.layouts import split_windows
from lstmcli.training.windows import recent

LENGTHS = (60, 25, 9)
DOC = {"data": {"scaling": "none"},  # the targets read as they are
       "window": {"look_back": 4, "horizon": 2, "history": 6},
       "model": {"topology": "direct", "layers": [{"units": 4}]},
       "training": {"epochs": 1, "batch_size": 8, "validation": 2, "seed": 1,
                    "interval_steps": 0}}


def _csv(path):
    """Series k holds 1000 k + its row number, so a target tells where its window ends."""
    pd.concat(pd.DataFrame({
        "unique_id": f"s{k}", "ds": pd.date_range("2020-01-01", periods=n, freq="MS"),
        "y": 1000.0 * (k + 1) + np.arange(n)}) for k, n in enumerate(LENGTHS)
    ).to_csv(path, index=False)
    return path


def test_recent_keeps_the_windows_ending_in_the_last_rows():
    starts = np.arange(10)  # windows of 5 rows end at rows 4..13
    assert recent(starts, end=14, span=5, history=3).tolist() == [False] * 7 + [True] * 3
    assert recent(starts, end=14, span=5, history=100).all()
    assert recent(starts, end=14, span=5, history=None).all()


def _last_targets(data) -> dict:
    """Row number of the last target of every training window, per series."""
    out = {}
    for _, y, *_ in data.x.unbatch().as_numpy_iterator():
        series, row = divmod(round(float(y[-1, 0])), 1000)
        out.setdefault(f"s{series - 1}", []).append(row)
    return {k: sorted(v) for k, v in sorted(out.items())}


@pytest.mark.parametrize("validation", [2, 0])
def test_training_keeps_only_the_most_recent_windows(tmp_path, validation):
    """Each series trains on the windows whose targets end in the last 6 of its training
    rows (all rows in the refit, validation 0); the validation windows are untouched."""
    frame = read_series(_csv(tmp_path / "d.csv"), DataSpec())
    doc = {**DOC, "training": {**DOC["training"], "validation": validation}}
    _, data, _ = split_windows(frame, config_from_dict(doc))
    every = {**doc, "window": {**doc["window"], "history": None}}
    _, all_data, _ = split_windows(frame, config_from_dict(every))
    n_train = [n - validation for n in LENGTHS]  # a window: 4 inputs, 2 targets
    assert _last_targets(data) == {f"s{k}": list(range(max(5, n - 6), n))
                                   for k, n in enumerate(n_train)}
    assert data.n_train == sum(min(6, n - 5) for n in n_train) < all_data.n_train
    assert data.n_val == all_data.n_val


def test_history_is_refused_where_training_reads_whole_series():
    with pytest.raises(ConfigError, match="window.history"):
        config_from_dict({**DOC, "window": {"look_back": 4, "history": 6},
                          "model": {"layers": [{"units": 4}]},
                          "training": {"mode": "stateful", "batch_size": 1}})


def test_window_command_cuts_the_windows_training_keeps(cli, tmp_path):
    data = _csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", DOC)
    summary = cli.json("window", data, "-c", cfg, "--out", tmp_path / "w.npz")
    assert summary["x_shape"] == [sum(min(6, n - 5) for n in LENGTHS), 4, 1]
    npz = np.load(tmp_path / "w.npz")
    last = npz["y"][:, -1, 0] % 1000  # the row number of each window's last target
    assert last.tolist() == [r for n in LENGTHS for r in range(max(5, n - 6), n)]
