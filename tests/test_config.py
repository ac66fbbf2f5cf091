"""Config: typed, strict, errors name the key path; every shipped config is valid."""

from pathlib import Path

import pytest

from conftest import REPO, TINY, write_yaml
from lstmcli.config import Config, config_from_dict, load_config
from lstmcli.errors import ConfigError


def _with(path: str, value):
    doc = {k: dict(v) for k, v in TINY.items()}
    section, key = path.split(".")
    doc.setdefault(section, {})[key] = value
    return doc


@pytest.mark.parametrize("doc, fragment", [
    (_with("window.look_bak", 3), "window.look_bak: unknown key; did you mean 'look_back'?"),
    (_with("window.look_back", 0), "window.look_back: must be greater than 0. Received: 0"),
    (_with("window.look_back", "x"), "window.look_back: Input should be a valid integer"),
    (_with("training.validation", 0.95), "training.validation: must be less than 0.9"),
    (_with("data.missing", "zero"), "data.missing: Input should be 'error', 'interpolate'"),
    ({**TINY, "model": {"layers": [{"units": 4}, {"units": -1}]}},
     "model.layers[1].units: must be greater than 0. Received: -1"),
    ({**TINY, "model": {"layers": [{"units": 4, "return_sequences": True}]}},
     "model.layers[0].return_sequences: unknown key"),
    ({**TINY, "trainig": {}}, "trainig: unknown key; did you mean 'training'?"),
    ({"model": TINY["model"]}, "window: required key is missing"),
])
def test_errors_name_the_key(doc, fragment):
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc, source="cfg.yaml")
    assert str(err.value).startswith("cfg.yaml: ")
    assert fragment in str(err.value)


def test_yaml_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("window: {look_back: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+, column \d+: invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(tmp_path / "list.yaml")


def test_python_objects_in_yaml_are_refused(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("window: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(evil)


def test_round_trip_and_defaults(tmp_path):
    cfg = load_config(write_yaml(tmp_path / "c.yaml", TINY))
    assert Config.model_validate(cfg.model_dump()) == cfg
    assert Config.model_validate(cfg.model_dump(mode="json")) == cfg
    assert cfg.training.optimizer.name == "adam" and cfg.training.loss == "mse"
    assert cfg.data.scaling == "minmax" and cfg.data.missing == "error"


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path):
    cfg = load_config(path)
    assert cfg.model.layers and (cfg.window.look_back is None or cfg.window.look_back > 0)


def test_config_reference_documents_every_key():
    doc = (REPO / "docs" / "config.md").read_text()
    missing = []

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            key = f"{prefix}{name}"
            if f"`{key}`" not in doc:
                missing.append(key)
            ann = field.annotation
            for sub in getattr(ann, "__args__", ()) + (ann,):
                if isinstance(sub, type) and hasattr(sub, "model_fields"):
                    walk(sub, f"{key}[]." if getattr(ann, "__origin__", None) is list
                         else f"{key}.")

    walk(Config, "")
    assert not missing, f"docs/config.md does not document {missing}"
