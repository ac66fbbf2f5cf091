"""A run directory is checked on load: bundle.json as a typed model (`meta.BundleMeta`),
the model's shapes against its config (`bundle._check_inputs`); training that diverges to
NaN stops with a ModelError (`train.fit`). The end-to-end cases are in
tests/bad_inputs/run_checks.yaml."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmcli.config import config_from_dict
from lstmcli.errors import BundleError, ModelError
from lstmcli.runs.bundle import _check_inputs, read_meta
from lstmcli.runs.meta import MAX_DEPTH

REPO = Path(__file__).resolve().parents[2]

CONFIG = {
    "data": {"time": "ds", "series": "unique_id", "features": ["y", "price"],
             "targets": ["y"], "scaling": "standard", "scale_per_series": True,
             "calendar": ["dayofweek"]},
    "window": {"look_back": 4},
    "model": {"layers": [{"units": 3}]},
    "training": {"epochs": 1},
}
COLUMNS = ["y", "price", "dayofweek_sin", "dayofweek_cos"]  # features, calendar, targets
META = {
    "format_version": 1,
    "versions": {"lstmcli": "0.1.0"},  # extra keys are kept as they are
    "config": CONFIG,
    "columns": COLUMNS,
    "freq": "D",
    "last_ds": {"a": "2024-02-09T00:00:00", "b": "2024-02-01"},
    "scaler": {"kind": "standard", "columns": COLUMNS, "shift": [1.0, 2, 0.0, 0.0],
               "scale": [1.5, 3, 1.0, 1.0],
               "series": {"a": {"shift": [0.5, 1, 0, 0], "scale": [1e-9, 2, 1, 1]}}},
    "training": {"epochs_run": 1},
    "intervals": {"method": "x", "levels": [80, 95], "horizon": 2, "origins": 3,
                  "lo": {"80": [[-1.0], [None]], "95": [[-2.0], [-3.0]]},
                  "hi": {"80": [[1.0], [2.0]], "95": [[2.0], [None]]}},
    "ranges": {"columns": ["y", "price"], "min": [0.0, 1.5], "max": [9.0, 3.0],
               "series": {"a": {"min": [1.0, 2.0], "max": [2.0, 3.0]}}},
}


def _run(tmp_path: Path, meta) -> Path:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "model.keras").write_bytes(b"")  # read_meta does not open it
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (run / "bundle.json").write_text(text)
    return run


def test_a_bundle_as_lstmcli_writes_it_reads_back(tmp_path):
    config, meta = read_meta(_run(tmp_path, META))
    assert config.data.calendar == ["dayofweek"] and meta.versions == {"lstmcli": "0.1.0"}
    steps = {**META, "freq": 7, "last_ds": {"a": 120}, "intervals": None}
    steps["config"] = {**CONFIG, "data": {**CONFIG["data"], "time": None, "calendar": []}}
    steps["scaler"] = {**META["scaler"], "columns": COLUMNS[:2], "shift": [0, 0],
                       "scale": [1, 1], "series": {}}
    del steps["columns"], steps["ranges"]
    read_meta(_run(tmp_path, steps))  # step numbers, no intervals, columns or ranges keys


def _edit(path: str, value):
    meta = copy.deepcopy(META)
    *parents, last = path.split("/")
    node = meta
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return meta


@pytest.mark.parametrize(("path", "value", "message"), [
    ("scaler/scale/1", 0, "scaler.scale[1]: must be a finite number > 0. Received: 0"),
    ("scaler/scale/0", -1.0, "scaler.scale[0]: must be a finite number > 0"),
    ("scaler/scale/0", float("nan"), "scaler.scale[0]: must be a finite number > 0"),
    ("scaler/shift/2", float("-inf"), "scaler.shift[2]: must be a finite number"),
    ("scaler/shift/0", True, "scaler.shift[0]: must be a number. Received: True"),
    ("scaler/shift/0", [1.0], "scaler.shift[0]: must be a number"),
    ("scaler/shift", "1,2,0,0", "scaler.shift: must be a valid list"),
    ("scaler/scale", [1.0, 1.0], "scaler.scale: 2 value(s) for the 4 column(s)"),
    ("scaler/series/a/scale/0", 0.0, "scaler.series.a.scale[0]: must be a finite number > 0"),
    ("scaler/series/a/shift", [0.0], "scaler.series['a'].shift: 1 value(s) for the 4"),
    ("scaler/series/a", "x", "scaler.series.a: must be a valid dictionary"),
    ("scaler/columns", ["y", "y", "a", "b"], "scaler.columns: a column is listed twice"),
    ("scaler/columns", ["y", "price", "c", "d"], "but the config's features, calendar"),
    ("scaler/columns", [], "scaler.columns: List should have at least 1 item"),
    ("scaler/kind", "robust", "scaler.kind: 'robust' but config.data.scaling is 'standard'"),
    ("scaler/kind", 3, "scaler.kind: must be a valid string. Received: 3"),
    ("scaler/kind", "minmax", "scaler.kind: 'minmax' but config.data.scaling is 'standard'"),
    ("scaler", KeyError, "scaler: required key is missing"),
    ("config/data/scale_per_series", False, "scaler.series: per-series parameters"),
    ("config/window/look_back", 0, "invalid bundle (config: window.look_back: "),
    ("config", KeyError, "config: required key is missing"),
    ("columns", ["y"], "columns: ['y'], but scaler.columns is"),
    ("freq", "fortnightly-ish", "freq: is not a pandas frequency alias"),
    ("freq", -1, "freq: must be a step >= 1"),
    ("freq", 1.5, "freq: must be a pandas frequency alias, a step number or null"),
    ("last_ds/a", "soon", "last_ds['a']: not an ISO time stamp. Received: 'soon'"),
    ("last_ds/b", None, "last_ds.b: must be an ISO time stamp or a step number"),
    ("last_ds", [], "last_ds: must be a valid dictionary"),
    ("training", [], "training: must be a valid dictionary"),
    ("intervals/levels", [80, 80], "intervals.levels: a level is listed twice"),
    ("intervals/levels/0", 100, "intervals.levels[0]: must be less than 100"),
    ("intervals/horizon", 3, "intervals.lo['80']: 2 row(s) for intervals.horizon 3"),
    ("intervals/hi/95", [[1.0], [2.0, 3.0]], "intervals.hi['95'][1]: 2 value(s) for 1 target"),
    ("intervals/hi/80", KeyError, "intervals.hi['80']: required key is missing"),
    ("intervals/lo/95/1/0", "x", "intervals.lo.95[1][0]: must be a number"),
    ("ranges/columns", ["y", "z"], "ranges.columns: ['y', 'z'] must be distinct columns of"),
    ("ranges/max", [9.0], "ranges.max: 1 value(s) for the 2 column(s) of ranges.columns"),
    ("ranges/min/0", float("nan"), "ranges.min[0]: must be a finite number"),
    ("ranges/series/a/min", [3.0, 2.0], "ranges.series['a']: a min is larger than its max"),
    ("format_version", "1", "format_version '1' is not supported"),
    ("format_version", 1.0, "format_version: must be a valid integer"),
])
def test_an_edited_bundle_is_refused_naming_the_key(tmp_path, path, value, message):
    with pytest.raises(BundleError) as err:
        read_meta(_run(tmp_path, _edit(path, value)))
    text = str(err.value)
    assert message in text, text
    assert text.startswith(str(tmp_path / "run" / "bundle.json"))
    assert "\n" not in text


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, f"invalid bundle (nested deeper than {MAX_DEPTH} levels)"),
    ('{"format_version": 1, "x": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}",
     f"nested deeper than {MAX_DEPTH} levels"),
    ('{"format_version": 1, "x": ' + "{\"a\": " * 5000 + "1" + "}" * 5000 + "}",
     f"nested deeper than {MAX_DEPTH} levels"),
    ('{"format_version": 1, "scaler": [' + "9" * 5000 + "]}", "unreadable (Exceeds the limit"),
    ('{"format_version": 1', "unreadable ("),
    ("", "unreadable (Expecting value"),
])
def test_unparseable_bundles_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(BundleError) as err:
        read_meta(_run(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_nesting_up_to_the_limit_is_fine(tmp_path):
    depth = MAX_DEPTH - 1  # the top-level object is level 1
    read_meta(_run(tmp_path, {**META, "extra": json.loads("[" * depth + "]" * depth)}))


def test_read_meta_does_not_load_tensorflow(tmp_path):
    run = _run(tmp_path, META)
    code = ("import sys; from lstmcli.runs.bundle import read_meta; "
            f"read_meta({str(run)!r}); assert 'tensorflow' not in sys.modules, 'TF loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ----------------------------------------------------------------- the model against its config


def _config(**changes):
    doc = {"data": {"features": ["y", "x"], "targets": ["y"]}, "window": {"look_back": 5},
           "model": {"layers": [{"units": 2}]}, "training": {}}
    for key, value in changes.items():
        section, name = key.split("__")
        doc[section][name] = value
    return config_from_dict(doc)


def _built(config, **overrides):
    """The model `lstmcli train` saves for this config."""
    from lstmcli.models.topology import build_model

    w, stateful = config.window, config.training.mode == "stateful"
    shape = dict(look_back=w.look_back, n_features=2 + 2 * len(config.data.calendar),
                 horizon=w.horizon, n_targets=1, stateful=stateful,
                 batch_size=config.training.batch_size, first_input=[0],
                 masking=w.padding)
    return build_model(config.model, **{**shape, **overrides})


SHAPES = {
    "many_to_one": {},
    "direct": {"model__topology": "direct", "window__horizon": 3},
    "one_to_many": {"model__topology": "one_to_many", "window__horizon": 2},
    "seq2seq": {"model__topology": "seq2seq", "window__horizon": 2},
    "residual": {"model__residual": "last_value"},
    "many_to_many": {"model__topology": "many_to_many"},
    "variable_length": {"model__topology": "many_to_many", "window__look_back": None},
    "padded": {"model__topology": "many_to_many", "window__look_back": None,
               "window__padding": True},
    "stateful": {"model__topology": "many_to_many", "training__mode": "stateful",
                 "training__batch_size": 3},
    "stateful_many_to_one": {"training__mode": "stateful", "training__batch_size": 2},
    "calendar": {"data__calendar": ["month", "hour"]},
}


@pytest.mark.parametrize("name", SHAPES)
def test_every_model_lstmcli_builds_fits_its_config(name, tmp_path):
    config = _config(**SHAPES[name])
    _check_inputs(_built(config), config, tmp_path / "model.keras")


@pytest.mark.parametrize(("name", "built_as", "overrides", "message"), [
    ("many_to_one", "many_to_one", {"look_back": 7},
     "the model reads windows of 7 time step(s) but bundle.json says window.look_back 5"),
    ("many_to_one", "many_to_one", {"per_step": True},
     "reads windows of any number of time step(s) but bundle.json says window.look_back 5"),
    ("many_to_one", "variable_length", {},
     "reads windows of any number of time step(s) but bundle.json says window.look_back 5"),
    ("many_to_many", "many_to_one", {}, "reads windows of 5 time step(s) but bundle.json "
                                        "says a free time axis"),
    ("stateful", "many_to_one", {}, "reads windows of 5 time step(s) but bundle.json says a "
                                    "free time axis"),
    ("many_to_one", "many_to_one", {"n_features": 3},
     "the model reads 3 feature(s) but bundle.json lists 2"),
    ("calendar", "many_to_one", {}, "the model reads 2 feature(s) but bundle.json lists 6"),
    ("many_to_one", "many_to_one", {"n_targets": 2, "first_input": [0, 1]},
     "the model predicts 2 target(s) but bundle.json lists 1"),
    ("direct", "direct", {"horizon": 4},
     "the model predicts 4 step(s) but bundle.json says window.horizon 3"),
    ("one_to_many", "many_to_one", {},
     "the model predicts 1 step(s) but bundle.json says window.horizon 2"),
])
def test_a_model_from_another_run_is_refused(name, built_as, overrides, message, tmp_path):
    config = _config(**SHAPES[name])
    model = _built(_config(**SHAPES[built_as]), **overrides)
    with pytest.raises(BundleError) as err:
        _check_inputs(model, config, tmp_path / "model.keras")
    assert message in str(err.value) and "retrain with `lstmcli train`" in str(err.value)


# ------------------------------------------------------------------------- divergence


def test_training_that_diverges_stops_with_a_model_error(tmp_path):
    from lstmcli.config import TrainingSpec
    from lstmcli.models.topology import build_model
    from lstmcli.training.fit import Persistence, TrainData, fit

    rng = np.random.default_rng(0)
    x = (1e13 * (10 + rng.random((32, 3, 1)))).astype("float32")
    y = x[:, -1:, :]
    spec = TrainingSpec(epochs=3, batch_size=4, optimizer={"name": "sgd", "learning_rate": 10})
    model = build_model(config_from_dict({"window": {"look_back": 3},
                                          "model": {"layers": [{"units": 2}]}}).model,
                        look_back=3, n_features=1, horizon=1, n_targets=1)
    data = TrainData(x=x, y=y, batch_size=4, shuffle=False, n_train=32, x_shape=[32, 3, 1],
                     y_shape=[32, 1, 1])
    work = tmp_path / ".run.partial"
    with pytest.raises(ModelError) as err:
        fit(model, data, spec, persist=Persistence(work=work, fingerprint="f"))
    text = str(err.value)
    assert text.startswith("training diverged at epoch 1 (loss ")
    assert "training.optimizer.learning_rate (now 10)" in text and "\n" not in text
    assert "checkpoint" not in text and not (work / "checkpoints").exists()
