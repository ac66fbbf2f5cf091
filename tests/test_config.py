"""Config: typed, strict, errors name the key path; every shipped config is valid."""

from pathlib import Path

import pytest

from conftest import REPO, TINY, write_yaml
from lstmcli.config import ACTIVATIONS, Config, config_from_dict, load_config
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
    (_with("training.validation", 0.95), "training.validation: 0.95 is neither a fraction"),
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


# Limits checked before any work: each is one line naming the key, exit 3 (ConfigError).

def _refused(doc, fragment: str) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc, source="cfg.yaml")
    message = str(err.value)
    assert message.startswith("cfg.yaml: ") and "\n" not in message
    assert fragment in message, message
    return message


def test_activations_come_from_a_list():
    message = _refused({**TINY, "model": {"layers": [{"units": 4, "activation": "foo"}]}},
                       "model.layers[0].activation: unknown activation; use one of tanh, "
                       "sigmoid, hard_sigmoid, relu")
    assert message.endswith("Received: 'foo'")
    _refused({**TINY, "model": {"layers": [{"units": 4, "recurrent_activation": "softmax"}]}},
             "model.layers[0].recurrent_activation: unknown activation")
    _refused({**TINY, "model": {"layers": [{"units": 4}], "dense": [{"units": 2,
                                                                     "activation": ""}]}},
             "model.dense[0].activation: unknown activation")
    for name in ACTIVATIONS:
        layer = {"units": 4, "activation": name, "recurrent_activation": name}
        config_from_dict({**TINY, "model": {"layers": [layer], "dense": [
            {"units": 2, "activation": name}]}})
    cfg = config_from_dict({**TINY, "model": {"layers": [
        {"units": 4, "activation": "TANH", "recurrent_activation": "Hard_Sigmoid"}]}})
    assert (cfg.model.layers[0].activation, cfg.model.layers[0].recurrent_activation) == (
        "tanh", "hard_sigmoid")


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")],
                         ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("path", ["training.validation", "training.optimizer.learning_rate",
                                  "training.early_stopping.min_delta", "model.layers[0].l2",
                                  "model.layers[0].dropout",
                                  "model.layers[0].recurrent_dropout"])
def test_numbers_must_be_finite(path, value):
    doc = {**TINY, "model": {"layers": [{"units": 4}]},
           "training": {"optimizer": {}, "early_stopping": {}}}
    if path.startswith("model"):
        doc["model"]["layers"][0][path.rsplit(".", 1)[1]] = value
    else:
        keys = path.split(".")[1:]
        section = doc["training"]
        for key in keys[:-1]:
            section = section[key]
        section[keys[-1]] = value
    _refused(doc, f"{path}: Input should be a finite number. Received: {value}")


@pytest.mark.parametrize("path, value, fragment", [
    ("training.seed", -1, "training.seed: must be greater than or equal to 0. Received: -1"),
    ("training.seed", 2**32, "training.seed: must be less than or equal to 4294967295 (seeds "
                             "are 32-bit: 0 to 4294967295). Received: 4294967296"),
    ("window.look_back", 100_001, "window.look_back: must be less than or equal to 100000 (a "
                                  "limit no real series needs"),
    ("window.look_back", 10**30, "Received: 1000000000000000000000000000000"),
    ("window.horizon", 100_001, "window.horizon: must be less than or equal to 100000"),
    ("window.stride", 10**6 + 1, "window.stride: must be less than or equal to 1000000"),
    ("training.batch_size", 10**6 + 1, "training.batch_size: must be less than or equal to "
                                      "1000000 (a limit no real data set needs"),
    ("training.epochs", 10**6 + 1, "training.epochs: must be less than or equal to 1000000"),
    ("training.checkpoint_every", 10**6 + 1, "training.checkpoint_every: must be less than"),
    ("training.interval_steps", 100_001, "training.interval_steps: must be less than or equal"),
    ("data.season_length", 10**9 + 1, "data.season_length: must be less than or equal to"),
    ("training.learning_rate", 11.0, "training.optimizer.learning_rate: must be less than or "
                                     "equal to 10 (larger steps diverge to NaN)"),
])
def test_upper_limits(path, value, fragment):
    if path == "training.learning_rate":
        doc = {**TINY, "training": {"optimizer": {"learning_rate": value}}}
    else:
        doc = _with(path, value)
    _refused(doc, fragment)


def test_limits_themselves_are_accepted():
    doc = _with("training.seed", 2**32 - 1)
    doc["window"] = {"look_back": 100_000, "horizon": 100_000, "stride": 10**6}
    doc["training"].update(batch_size=10**6, epochs=10**6, checkpoint_every=10**6)
    cfg = config_from_dict(doc)
    assert cfg.training.seed == 2**32 - 1 and cfg.window.look_back == 100_000
    assert config_from_dict(_with("training.seed", 0)).training.seed == 0
    _refused(_with("training.chunk_length", 100_001), "training.chunk_length: must be less")
    _refused({**TINY, "model": {"layers": [{"units": 4, "l2": 10.5}]}},
             "model.layers[0].l2: must be less than or equal to 10")
    _refused({**TINY, "model": {"layers": [{"units": 10**6 + 1}]}},
             "model.layers[0].units: must be less than or equal to 1000000")


def test_weights_must_fit_in_memory():
    # an LSTM layer has 4 * (units * (inputs + units) + units) weights
    assert config_from_dict({**TINY, "model": {"layers": [{"units": 11_000}]}})
    message = _refused({**TINY, "model": {"layers": [{"units": 20_000}]}},
                       "model.layers[0].units: the model would need at least 1,600,180,001 "
                       "weights (6.4 GB at 4 bytes each")
    assert "over the limit of 500,000,000 (2 GB); use fewer units" in message
    # seq2seq: the decoder doubles the weights of its encoder
    layers = [{"units": 4}, {"units": 9000}]
    assert config_from_dict({**TINY, "model": {"layers": layers}})
    _refused({**TINY, "model": {"layers": layers, "topology": "seq2seq"}},
             "model.layers[1].units: the model would need at least 648,")
    _refused({**TINY, "model": {"layers": [{"units": 4}], "dense": [{"units": 10**6}]},
              "window": {"look_back": 4, "horizon": 1000}},
             "window.horizon: the model would need at least")
    _refused({**TINY, "model": {"layers": [{"units": 8000}], "dense": [{"units": 10**5}]}},
             "model.dense[0].units: the model would need")
    _refused({**TINY, "model": {"topology": "one_to_many", "layers": [{"units": 4000}]},
              "window": {"look_back": 100_000, "horizon": 2}},
             "model.layers[0].units: the model would need")  # the window flattened: 100k inputs


def test_seq2seq_horizon_and_layer_count_limits():
    _refused({**TINY, "model": {"topology": "seq2seq", "layers": [{"units": 4}]},
              "window": {"look_back": 4, "horizon": 1001}},
             "window.horizon: seq2seq unrolls its decoder once per step")
    _refused({**TINY, "model": {"layers": [{"units": 4}] * 101}},
             "model.layers: List should have at most 100 items")


def _load_text(tmp_path, text: str, fragment: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert fragment in message, message
    return message


@pytest.mark.parametrize("text, fragment", [
    ("? [a, b]\n: 1\n", "line 1, column 3: invalid YAML (a key must be a plain value such as a "
                        "name, not a list)"),
    ("{[1]: 2}\n", "line 1, column 2: invalid YAML (a key must be a plain value"),
    ("window: {look_back: 4, {a: 1}: 2}\n", "line 1, column 24: invalid YAML (a key must be a "
                                            "plain value such as a name, not a mapping)"),
])
def test_unhashable_keys(tmp_path, text, fragment):
    _load_text(tmp_path, text, fragment)


def _laughs(levels: int, width: int = 10) -> str:
    """A "billion laughs" document: `levels` anchors, each a list of `width` aliases of the
    one before; ~60 bytes a level, width ** levels values expanded."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return ("\n".join(lines) + f"\ndata: {{features: *a{levels - 1}}}\n"
            "window: {look_back: 4}\nmodel: {layers: [{units: 4}]}\n")


@pytest.mark.parametrize("levels", [5, 9, 10])
def test_alias_bombs_are_refused_before_they_expand(tmp_path, levels):
    # before: 10 levels ended in MemoryError after 132 s; now refused without expanding
    assert len(_laughs(levels)) < 1000
    _load_text(tmp_path, _laughs(levels), "invalid YAML (its aliases expand to more than "
                                          "10,000 values; a config needs far fewer)")


def test_small_aliases_still_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("window: {look_back: 4}\nmodel: {layers: [&l {units: 4}, *l]}\n")
    cfg = load_config(path)
    assert [layer.units for layer in cfg.model.layers] == [4, 4]


def test_alias_cycles_and_deep_expansions_are_refused(tmp_path):
    _load_text(tmp_path, "a: &a [1, *a]\n", "invalid YAML (an alias refers to the collection "
                                           "it is in)")
    _load_text(tmp_path, "a: &a {b: *a}\n", "an alias refers to the collection it is in")
    # each anchor nests 90 levels deep around the one before: 450 levels once expanded
    deep = "".join(f"a{i}: &a{i} " + "[" * 90 + (f"*a{i - 1}" if i else "1") + "]" * 90
                   + "\n" for i in range(5))
    _load_text(tmp_path, deep, "its aliases expand to nesting more than 100 levels deep")


@pytest.mark.parametrize("text", ["[" * 20_000, "[" * 499_000, "{a: " * 20_000,
                                  "- " * 20_000 + "x\n",
                                  "".join(" " * i + "a:\n" for i in range(1000))],
                         ids=["brackets", "brackets_max_size", "flow_mappings",
                              "block_sequences", "block_mappings"])
def test_deep_nesting_is_refused(tmp_path, text):
    # before: 20,000 brackets ended in RecursionError
    _load_text(tmp_path, text, "invalid YAML (nested more than 100 levels deep)")


def test_nesting_up_to_the_limit_is_read(tmp_path):
    # the top-level mapping and 99 lists: 100 levels, read; the key is then unknown
    _load_text(tmp_path, "x: " + "[" * 99 + "]" * 99 + "\n", "x: unknown key")
    _load_text(tmp_path, "x: " + "[" * 100 + "]" * 100 + "\n", "nested more than 100 levels")


def test_too_many_values_are_refused(tmp_path):
    text = "data: {features: [" + ", ".join(["c"] * 10_001) + "]}\n"
    _load_text(tmp_path, text, "invalid YAML (more than 10,000 values; a config needs far "
                               "fewer)")


def test_config_file_problems(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_000_000 + "\n")
    with pytest.raises(ConfigError, match=r"big.yaml: the config is over 1,000,000 bytes"):
        load_config(big)
    with pytest.raises(ConfigError, match=r": cannot read config: is a directory; give the "
                                          r"YAML file itself$"):
        load_config(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"window: {look_back: 4}\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin1.yaml: line 2: byte 0xe9 is not UTF-8 text; "
                                          r"save the config as UTF-8$"):
        load_config(latin1)
    _load_text(tmp_path, "window: {look_back: 4}\x00\n",
               "line 1: invalid YAML (character #x0000 is not allowed in YAML)")
    _load_text(tmp_path, '"a\\nb": 1\nwindow: {look_back: 4}\nmodel: {layers: [{units: 4}]}\n',
               "'a\\nb': unknown key")

    locked = tmp_path / "locked.yaml"
    locked.write_text("window: {look_back: 4}\n")
    real_open = Path.open

    def deny(self, *args, **kwargs):  # chmod 000 does not stop root, so deny it here
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(ConfigError, match=r"locked.yaml: cannot read config: permission "
                                          r"denied$"):
        load_config(locked)
