"""The bad-input corpus (tests/bad_inputs/cases.yaml): every case exits with its documented
code and one `error:` line naming the problem; no traceback; nothing left half-written."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import TINY, write_yaml

# cases.yaml holds the first rounds; each later family has a file of its own beside it.
CASES = [case for path in sorted((Path(__file__).parent / "bad_inputs").glob("*.yaml"))
         for case in yaml.safe_load(path.read_text()) or []]


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 40 and len({c["name"] for c in CASES}) == len(CASES)


def _break(run: Path, how: str) -> None:
    def scaler(**values):
        return lambda meta: meta["scaler"].update(values)

    def top(key, value):
        return lambda meta: meta.update({key: value})

    # the default tiny run: daily, one column y, minmax, look_back 4, horizon 1, intervals
    meta_edits = {
        "scaler_zero": scaler(scale=[0.0]),
        "scaler_negative": scaler(scale=[-2.5]),
        "scaler_nan": scaler(scale=[float("nan")]),
        "scaler_inf": scaler(shift=[float("inf")]),
        "scaler_wrong_length": scaler(scale=[1.0, 2.0]),
        "scaler_strings": scaler(shift=["6.9"]),
        "scaler_kind": scaler(kind="standard"),
        "scaler_columns": scaler(columns=["z"]),
        "scaler_series_short": scaler(series={"series_0": {"shift": [], "scale": []}}),
        "scaler_missing": lambda meta: meta.pop("scaler"),
        "config_missing": lambda meta: meta.pop("config"),
        "format_version_true": top("format_version", True),
        "freq_bogus": top("freq", "every other tuesday"),
        "freq_zero": top("freq", 0),
        "freq_monthly": top("freq", "MS"),  # a monthly run, for monthly data
        "last_ds_not_a_time": top("last_ds", {"series_0": "yesterday"}),
        "intervals_short": lambda meta: meta["intervals"]["lo"].update(
            {"80": meta["intervals"]["lo"]["80"][:2]}),
        "intervals_strings": lambda meta: meta["intervals"]["hi"]["95"].__setitem__(
            0, ["wide"]),
        "training_not_an_object": top("training", "fast"),
    }
    # how -> (input time steps, input features, head units, output reshape, sequences out)
    models = {
        "look_back_model": (7, 1, 1, (1, 1), False),
        "free_time_model": (None, 1, 1, None, True),
        "two_target_model": (4, 1, 2, (1, 2), False),
        "horizon_model": (4, 1, 3, (3, 1), False),
        "flat_output_model": (4, 1, 1, None, False),
    }
    if how == "delete_model":
        (run / "model.keras").unlink()
    elif how == "truncate_model":
        data = (run / "model.keras").read_bytes()
        (run / "model.keras").write_bytes(data[: len(data) // 2])
    elif how == "bad_json":
        (run / "bundle.json").write_text('{"format_version": 1, "config": ')
    elif how == "future_version":
        meta = json.loads((run / "bundle.json").read_text())
        (run / "bundle.json").write_text(json.dumps({**meta, "format_version": 99}))
    elif how == "no_freq":
        meta = json.loads((run / "bundle.json").read_text())
        (run / "bundle.json").write_text(json.dumps({**meta, "freq": None}))
    elif how == "json_list":
        (run / "bundle.json").write_text("[]")
    elif how == "empty_model":
        (run / "model.keras").write_bytes(b"")
    elif how == "two_feature_model":  # a model.keras from a run on other data
        from lstmcli.models.backend import import_keras

        keras = import_keras()
        inp = keras.Input((4, 2))
        keras.Model(inp, keras.layers.Dense(1)(keras.layers.LSTM(2)(inp))).save(
            run / "model.keras")
    elif how == "lambda_model":  # a model file that carries code: safe loading refuses it
        from lstmcli.models.backend import import_keras

        keras = import_keras()
        inp = keras.Input((4, 1))
        out = keras.layers.Lambda(lambda x: x[:, -1:, :] * 2)(inp)
        keras.Model(inp, out).save(run / "model.keras")
        assert zipfile.is_zipfile(run / "model.keras")
    elif how in meta_edits:  # bundle.json edited by hand: checked on load (BundleMeta)
        meta = json.loads((run / "bundle.json").read_text())
        meta_edits[how](meta)
        (run / "bundle.json").write_text(json.dumps(meta))  # NaN, Infinity as Python writes
    elif how == "deep_json":  # json's parser recurses once per level
        (run / "bundle.json").write_text("[" * 100_000 + "]" * 100_000)
    elif how == "deep_json_parsed":  # deep enough to hurt later, shallow enough to parse
        meta = json.loads((run / "bundle.json").read_text())
        (run / "bundle.json").write_text(json.dumps(meta)[:-1] + ', "x": ' + "[" * 500
                                         + "]" * 500 + "}")
    elif how == "huge_int_json":  # 5000 digits: beyond Python's int conversion limit
        text = (run / "bundle.json").read_text()
        (run / "bundle.json").write_text(text.replace('"shift": [', '"shift": [' + "9" * 5000
                                                      + ", ", 1))
    elif how == "binary_json":
        (run / "bundle.json").write_bytes(b"\xff\xfe\x00{}")
    elif how in models:  # a model.keras from another run: other shapes than bundle.json's
        from lstmcli.models.backend import import_keras

        keras = import_keras()
        steps, features, units, out_shape, sequences = models[how]
        inp = keras.Input((steps, features))
        x = keras.layers.Dense(units)(keras.layers.LSTM(2, return_sequences=sequences)(inp))
        if out_shape is not None:
            x = keras.layers.Reshape(out_shape)(x)
        keras.Model(inp, x).save(run / "model.keras")
    else:
        raise ValueError(how)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(cli, trained, tmp_path, case):
    for name, text in case.get("files", {}).items():
        path = tmp_path / name
        if case.get("binary"):
            path.write_bytes(text.encode("latin-1"))
        else:
            path.write_text(text, encoding="utf-8")
    if "config" in case:
        (tmp_path / "config.yaml").write_text(case["config"])
    else:
        doc = {**TINY, **yaml.safe_load(case.get("config_extra", "") or "{}")}
        write_yaml(tmp_path / "config.yaml", doc)
    run = tmp_path / "run_copy"
    shutil.copytree(trained["run"], run)
    if "mutate" in case:
        _break(run, case["mutate"])
    places = {"data": tmp_path / "data.csv", "config": tmp_path / "config.yaml",
              "dir": tmp_path, "run": run, "out": tmp_path / "out.csv"}
    default = (["train", "{data}", "-c", "{config}", "-o", "{dir}/new_run"]
               if case.get("command") == "train" else ["window", "{data}", "-c", "{config}"])
    args = [a.format(**places) for a in case.get("args", default)]
    before = sorted(p.name for p in tmp_path.iterdir())

    result = cli(*args, code=case["code"])

    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case["message"] in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == before  # no output, no temporary file or directory left behind
