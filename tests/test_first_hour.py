"""What a newcomer meets in the first hour: the run's config.yaml says what the run used,
layer types in any case, --resume on a finished run, the note for series too short to
window, and the no-config note of backtest. (The error messages with a suggestion are
cases of the bad-input corpus, tests/bad_inputs/suggestions.yaml.)"""

import json
from pathlib import Path

import pytest
import yaml

from conftest import TINY, long_csv, wide_csv, write_yaml
from lstmcli import api
from lstmcli.config import config_from_dict
from lstmcli.data.read import read_series
from lstmcli.errors import BundleError, ConfigError
from lstmcli.evaluation.defaults import picked
from lstmcli.training.layouts import resolved, reusable

AIRLINE = Path(__file__).resolve().parent.parent / "sample_data" / "airline_passengers.csv"


def _config(**model):
    return config_from_dict({**TINY, "model": {"layers": [{"units": 4}], **model}})


def test_layer_types_take_any_case():
    config = _config(layers=[{"type": "LSTM", "units": 4}, {"type": " Gru", "units": 4}])
    assert [layer.type for layer in config.model.layers] == ["lstm", "gru"]
    with pytest.raises(ConfigError, match=r"model.layers\[0\].type: .* Received: 'Lstmm'"):
        _config(layers=[{"type": "Lstmm", "units": 4}])
    with pytest.raises(ConfigError, match=r"model.layers\[0\].type: .* Received: 5"):
        _config(layers=[{"type": 5, "units": 4}])


def test_the_run_config_says_the_frequency_and_gates_used(tmp_path):
    frame = read_series(AIRLINE, _config().data)
    config = _config(layers=[{"type": "lstm", "units": 4}, {"type": "gru", "units": 4},
                             {"type": "simple_rnn", "units": 4},
                             {"type": "lstm", "units": 4, "recurrent_activation": "tanh"}])
    done = resolved(config, frame)  # bundle.json's: data.freq as given
    assert done.data.time == "Month" and done.data.freq is None
    assert [layer.recurrent_activation for layer in done.model.layers] == [
        "sigmoid", "sigmoid", None, "tanh"]  # simple_rnn has no gates
    shown = reusable(done, frame)  # config.yaml's
    assert shown.data.freq == "MS" and shown.model == done.model
    again = config_from_dict(shown.model_dump(mode="json"))  # config.yaml reads back
    assert again == shown and read_series(AIRLINE, again.data).freq == "MS"
    # daily, long format
    frame = read_series(long_csv(tmp_path / "long.csv"), _config().data)
    assert reusable(resolved(_config(), frame), frame).data.freq == "D"
    # data.freq as given stays; no time column: the rows are the steps, nothing to record
    given = config_from_dict({**TINY, "data": {"freq": "2D"},
                              "model": {"layers": [{"units": 4}]}})
    frame = read_series(wide_csv(tmp_path / "w.csv", freq="2D"), given.data)
    assert reusable(given, frame).data.freq == "2D"
    (tmp_path / "steps.csv").write_text("y\n" + "\n".join(map(str, range(20))) + "\n")
    frame = read_series(tmp_path / "steps.csv", _config().data)
    assert reusable(_config(), frame).data.freq is None


def test_train_writes_the_frequency_into_config_yaml_only(trained):
    saved = yaml.safe_load((trained["run"] / "config.yaml").read_text())
    meta = json.loads((trained["run"] / "bundle.json").read_text())
    assert saved["data"]["freq"] == "D" == meta["freq"]
    assert saved["model"]["layers"][0]["recurrent_activation"] == "sigmoid"
    assert meta["config"]["data"]["freq"] is None  # predict infers it from its data
    assert meta["config"]["model"] == saved["model"]


def test_resolved_config_leaves_freq_unset_when_a_series_is_off_its_grid(tmp_path):
    # series b is irregular: read again with data.freq D it would be an error
    rows = ["unique_id,ds,y"] + [f"a,2024-01-{d:02d} 00:00,{d}" for d in range(1, 21)] + [
        f"b,2024-01-{d:02d} {h:02d}:00,{d}" for d, h in zip(range(1, 21), [0, 5] * 10,
                                                          strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    frame = read_series(tmp_path / "d.csv", _config().data)
    assert frame.freq == "D"
    assert reusable(_config(), frame).data.freq is None
    read_series(tmp_path / "d.csv", reusable(_config(), frame).data)  # reads as it did


def test_resume_of_a_finished_run_says_nothing_to_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for force in (False, True):  # a directory that is not a run: nothing said about runs
        with pytest.raises(BundleError, match="run: no interrupted training to resume"):
            api.check_writable_run(run, force=force, resume=True)
    (run / "bundle.json").write_text("{}")
    for force in (False, True):
        with pytest.raises(BundleError, match="nothing to resume: it is a finished run"):
            api.check_writable_run(run, force=force, resume=True)
    with pytest.raises(BundleError, match="no interrupted training to resume"):
        api.check_writable_run(tmp_path / "new", force=False, resume=True)
    with pytest.raises(BundleError, match="already exists; pass --force"):
        api.check_writable_run(run, force=False, resume=False)


def test_window_notes_the_series_too_short_to_window(tmp_path, cli):
    data = long_csv(tmp_path / "long.csv", lengths=(30, 25, 8))
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "window": {"look_back": 9}})
    result = cli("window", data, "-c", cfg)
    assert ("note: 1 series skipped, shorter than look_back 9 + horizon 1 = 10 rows: "
            "'s2' (8 rows)") in result.stderr
    assert cli.json("window", data, "-c", cfg)["series"] == 3  # read, two of them windowed


def test_backtest_without_config_does_not_promise_a_run_directory():
    _, _, notes = picked(AIRLINE, horizon=12, command="backtest")
    assert "trained at each origin; `lstmcli train DATA.csv -o RUN_DIR --horizon 12` picks " \
           "the same and saves it as RUN_DIR/config.yaml" in notes[0]
    assert "saved as RUN_DIR/config.yaml" in picked(AIRLINE, horizon=12)[2][0]
