"""The bad-input corpus (tests/bad_inputs/cases.yaml): every case exits with its documented
code and one `error:` line naming the problem; no traceback; nothing left half-written."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import TINY, write_yaml

CASES = yaml.safe_load((Path(__file__).parent / "bad_inputs" / "cases.yaml").read_text())


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 40 and len({c["name"] for c in CASES}) == len(CASES)


def _break(run: Path, how: str) -> None:
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
        from lstmcli.backend import import_keras

        keras = import_keras()
        inp = keras.Input((4, 2))
        keras.Model(inp, keras.layers.Dense(1)(keras.layers.LSTM(2)(inp))).save(
            run / "model.keras")
    elif how == "lambda_model":  # a model file that carries code: safe loading refuses it
        from lstmcli.backend import import_keras

        keras = import_keras()
        inp = keras.Input((4, 1))
        out = keras.layers.Lambda(lambda x: x[:, -1:, :] * 2)(inp)
        keras.Model(inp, out).save(run / "model.keras")
        assert zipfile.is_zipfile(run / "model.keras")
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
