"""Acceptance: streaming is the same pipeline as in memory. A feature matrix (calendar,
future covariates, per-series scaling, intervals, stateful, missing-value policies, unsorted
rows) is trained once in memory (`data.stream: false`) and once streamed (`data.stream:
true`) on the same CSV, through the CLI; both runs must hold the same weights and history,
and `predict` and `rollout` of each must write the same columns and rows: bit for bit, or
within 1e-6 where the float summation order differs (weights and losses: absolute, they are
in scaled units; forecasts: relative too, since the series reach 1000 in float32 and are
written with 8 significant digits)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from conftest import write_yaml

ATOL = 1e-6
HORIZON = 5  # rollout steps
LEVELS = (10.0, 100.0, 1000.0)  # each series 10x the one before: per-series scaling matters
LENGTHS = (90, 75, 64)

BASE = {
    "window": {"look_back": 4},
    "model": {"layers": [{"type": "lstm", "units": 4}]},
    # shuffle off: the feature cases compare features, not the shuffle (see "shuffled");
    # interval_steps 0: intervals only where the case is about them (see "intervals")
    "training": {"epochs": 2, "batch_size": 8, "validation": 0.2, "seed": 7,
                 "shuffle": False, "jit_compile": False, "interval_steps": 0,
                 "checkpoint_every": 0},
}


def frame(*, gaps: bool = False) -> pd.DataFrame:
    """Three daily series in long format: y (the target, levels 10/100/1000 with a weekly
    pattern) and x (a flag-like covariate, known ahead, that lifts y on its own day).
    gaps: a few time stamps deleted and a few values blanked in each series."""
    rng = np.random.default_rng(11)
    parts = []
    for k, (n, level) in enumerate(zip(LENGTHS, LEVELS, strict=True)):
        ds = pd.date_range("2024-01-01", periods=n, freq="D")
        x = (rng.random(n) < 0.3).astype(float)
        y = level * (1 + 0.2 * (ds.day_of_week >= 5) + 0.3 * x
                     + 0.1 * np.sin(np.arange(n) / 4 + k) + rng.normal(0, 0.02, n))
        part = pd.DataFrame({"unique_id": f"s{k}", "ds": ds.strftime("%Y-%m-%d"),
                             "y": y.round(4), "x": x})
        if gaps:  # interior rows only: the first and last rows of each series stay
            part = part.drop(index=[20 + k, 21 + k, 45]).reset_index(drop=True)
            part.loc[[10 + k, 33], "y"] = np.nan
            part.loc[[27 - k], "x"] = np.nan
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def future_frame() -> pd.DataFrame:
    """x for the HORIZON days after each series' last row (the rollout's --future file)."""
    rng = np.random.default_rng(12)
    parts = []
    for k, n in enumerate(LENGTHS):
        ds = pd.date_range("2024-01-01", periods=n + HORIZON, freq="D")[n:]
        parts.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds.strftime("%Y-%m-%d"),
                                   "x": (rng.random(HORIZON) < 0.3).astype(float)}))
    return pd.concat(parts, ignore_index=True)


def unsorted(df: pd.DataFrame) -> pd.DataFrame:
    """The rows shuffled: each series' rows out of time order, series interleaved."""
    return df.sample(frac=1.0, random_state=3).reset_index(drop=True)


STATEFUL = {"window": {"look_back": 5},
            "model": {"topology": "many_to_many", "layers": [{"type": "lstm", "units": 4}]},
            "training": {"mode": "stateful", "batch_size": 2, "chunk_length": 5}}

CASES = {  # id: (config keys over BASE, the data, whether rollout needs --future)
    "shuffled": ({"training": {"shuffle": True}}, frame, False),  # the baseline + shuffle
    "calendar": ({"data": {"calendar": ["dayofweek", "month"]}}, frame, False),
    "future-covariate": ({"data": {"features": ["y", "x"], "targets": ["y"],
                                   "future": ["x"]}}, frame, True),
    "scale-per-series": ({"data": {"scaling": "standard", "scale_per_series": True}},
                         frame, False),
    "intervals": ({"training": {"interval_steps": 8}}, frame, False),
    "stateful": (STATEFUL, frame, False),
    "missing-interpolate": ({"data": {"missing": "interpolate"}},
                            lambda: frame(gaps=True), False),
    "missing-ffill": ({"data": {"missing": "ffill"}}, lambda: frame(gaps=True), False),
    "missing-drop": ({"data": {"missing": "drop"}}, lambda: frame(gaps=True), False),
    "unsorted-rows": ({}, lambda: unsorted(frame()), False),
}


def config(keys: dict, *, stream: bool) -> dict:
    doc = copy.deepcopy(BASE)
    for section, values in keys.items():
        doc.setdefault(section, {}).update(copy.deepcopy(values))
    doc.setdefault("data", {})["stream"] = stream
    return doc


def assert_tables_equal(mem: pd.DataFrame, streamed: pd.DataFrame, what: str, *,
                        rtol: float = 0.0) -> None:
    assert list(streamed.columns) == list(mem.columns), what
    assert len(streamed) == len(mem) > 0, what
    for column in mem.columns:
        a, b = mem[column], streamed[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), atol=ATOL,
                                       rtol=rtol, err_msg=f"{what}: column {column}")
        else:
            assert b.astype(str).tolist() == a.astype(str).tolist(), f"{what}: column {column}"


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_run_equals_the_in_memory_run(tmp_path, cli, case):
    from lstmcli.runs.bundle import load_bundle

    keys, make, needs_future = CASES[case]
    data = tmp_path / "data.csv"
    make().to_csv(data, index=False)
    future = ["--future", tmp_path / "future.csv"] if needs_future else []
    if needs_future:
        future_frame().to_csv(tmp_path / "future.csv", index=False)
    runs, preds, rolls = {}, {}, {}
    for name, streaming in (("mem", False), ("stream", True)):
        cfg = write_yaml(tmp_path / f"{name}.yaml", config(keys, stream=streaming))
        runs[name] = tmp_path / f"run-{name}"
        cli("train", data, "-c", cfg, "-o", runs[name], "--quiet")
        cli("predict", data, "-m", runs[name], "-o", tmp_path / f"predict-{name}.csv",
            "--quiet")
        cli("rollout", data, "-m", runs[name], "-H", HORIZON, *future,
            "-o", tmp_path / f"rollout-{name}.csv", "--quiet")
        preds[name] = pd.read_csv(tmp_path / f"predict-{name}.csv")
        rolls[name] = pd.read_csv(tmp_path / f"rollout-{name}.csv")

    bundles = {n: load_bundle(runs[n]) for n in runs}
    assert bundles["stream"].config.data.stream and not bundles["mem"].config.data.stream
    # the same weights
    mem, streamed = (bundles[n].model.get_weights() for n in ("mem", "stream"))
    assert len(mem) == len(streamed)
    for k, (a, b) in enumerate(zip(mem, streamed, strict=True)):
        np.testing.assert_allclose(b, a, atol=ATOL, rtol=0, err_msg=f"weight {k}")
    # the same history (but the seconds each epoch took)
    hist = {n: pd.read_csv(runs[n] / "history.csv") for n in runs}
    columns = [c for c in hist["mem"].columns if c != "seconds"]
    assert [c for c in hist["stream"].columns if c != "seconds"] == columns
    assert_tables_equal(hist["mem"][columns], hist["stream"][columns], "history.csv")
    # the same forecasts, columns (intervals included) and rows
    assert_tables_equal(preds["mem"], preds["stream"], "predict", rtol=ATOL)
    assert_tables_equal(rolls["mem"], rolls["stream"], "rollout", rtol=ATOL)
    if case == "intervals":
        assert "y_lo_80" in rolls["mem"].columns and "y_hi_95" in preds["mem"].columns
    if needs_future:
        assert "x_forecast" not in rolls["mem"].columns
    assert rolls["mem"].groupby("unique_id").size().to_dict() == \
        {f"s{k}": HORIZON for k in range(len(LENGTHS))}
