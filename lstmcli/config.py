"""The YAML config as typed objects: load, validate, and report errors by key path.

Every section forbids unknown keys, so a misspelt key fails before any work starts:

    >>> load_config("bad.yaml")
    ConfigError: bad.yaml: window.look_bak: unknown key; did you mean 'look_back'?

The resolved config is stored verbatim in a run directory's bundle.json and
reloaded from there (`Config.model_validate(cfg.model_dump()) == cfg`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lstmcli.errors import ConfigError


class _Spec(BaseModel):
    # strict: `units: true` or `epochs: "10"` are mistakes, not 1 and 10
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataSpec(_Spec):
    """Which columns of the CSV mean what."""

    # Time column. None: use a column named ds/date/time/timestamp/datetime if there is one,
    # otherwise the rows are taken as equally spaced steps 0, 1, 2, ...
    time: str | None = None
    # Series-id column of a long-format file. None: `unique_id` if present, else one series.
    series: str | None = None
    # Input columns. None: every numeric column except the time and series columns.
    features: list[str] | None = Field(default=None, min_length=1)
    # Predicted columns. None: the same as the features (what rollout needs).
    targets: list[str] | None = Field(default=None, min_length=1)
    # Missing values: refuse by default, so gaps are never filled silently.
    missing: Literal["error", "interpolate", "ffill", "drop"] = "error"
    # Scaling is fitted on the training part only. LSTMs trained on raw values saturate
    # their tanh gates and cannot extrapolate, so "none" is for data already in [-1, 1].
    scaling: Literal["minmax", "standard", "none"] = "minmax"
    # Long format: scale each series by its own training rows (series of very different
    # levels then train one global model on comparable inputs). False: one scaler for all.
    scale_per_series: bool = False
    # Pandas frequency alias ("D", "h", "MS", ...). None: inferred from the timestamps.
    freq: str | None = None
    # Steps per season (12 for monthly data with a yearly cycle): the Seasonal-Naive baseline
    # and MASE's scale in backtests. None: from the frequency (h 24, D 7, W 52, MS 12, ...).
    season_length: int | None = Field(default=None, gt=0)
    # Calendar features added as inputs (sin/cos pairs), known for future steps, so rollout
    # feeds them instead of predicting them. Needs timestamps.
    calendar: list[Literal["hour", "dayofweek", "dayofmonth", "dayofyear", "weekofyear",
                           "month"]] = []
    # Covariates known ahead (planned promotions, prices): inputs aligned with the step being
    # predicted, given for the horizon with `rollout --future FILE.csv`.
    future: list[str] = []
    # Larger than memory: `train` reads the CSV in passes of 250k rows (windows cut on the
    # fly, shuffled in a bounded buffer) and `rollout` keeps only each series' last rows.
    stream: bool = False


class WindowSpec(_Spec):
    """How a series becomes [samples, time_steps, features] windows."""

    # Input time steps per sample. null: variable-length sequences - each series is one
    # sample of its own length, input shape (None, features); needs many_to_many.
    look_back: int | None = Field(gt=0)
    horizon: int = Field(default=1, gt=0)  # steps predicted per sample
    stride: int = Field(default=1, gt=0)  # steps between the starts of consecutive samples
    # Variable-length sequences only: pad each batch to its longest sequence (masked) instead
    # of batching only sequences of equal length.
    padding: bool = False


class LayerSpec(_Spec):
    """One recurrent layer. `return_sequences` is not a key: it is set by position."""

    type: Literal["lstm", "gru", "simple_rnn"] = "lstm"
    units: int = Field(gt=0)
    activation: str = "tanh"  # tanh keeps LSTM/GRU on the fused cuDNN kernel on a GPU
    # Gate activation of lstm/gru (simple_rnn has no gates). None: sigmoid, Keras's default.
    recurrent_activation: str | None = None
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    recurrent_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    # Also read the window backwards and concatenate both outputs (encoder side only).
    bidirectional: bool = False
    # L2 penalty on the input and recurrent kernels.
    l2: float = Field(default=0.0, ge=0.0)


class DenseSpec(_Spec):
    """A Dense layer between the recurrent stack and the output head."""

    units: int = Field(gt=0)
    activation: str = "relu"


class ModelSpec(_Spec):
    # many_to_one: stacked recurrent layers, the last returns its final output only, then a
    # Dense head of horizon x targets values.
    # many_to_many: every layer returns sequences and the head predicts the next step at
    # every time step (the natural shape for stateful training and state warm-up).
    # direct: many_to_one named for what it is used for - all `horizon` steps in one shot.
    # one_to_many: the window flattened into one vector, repeated `horizon` times
    # (RepeatVector), recurrent layers returning sequences, a head at every output step.
    # seq2seq: `layers` are the encoder; each encoder layer's final states initialise the
    # matching decoder layer, which emits `horizon` steps, each fed the previous step's output.
    topology: Literal["many_to_one", "many_to_many", "direct", "one_to_many",
                      "seq2seq"] = "many_to_one"
    layers: list[LayerSpec] = Field(min_length=1)
    dense: list[DenseSpec] = Field(default_factory=list)
    # seq2seq only: decoder layers, one per encoder layer. None: the encoder's types and
    # units (twice the units after a bidirectional encoder layer).
    decoder: list[LayerSpec] | None = None
    # seq2seq only: in training, feed the decoder the true previous value instead of its
    # own prediction (faster to learn; inference always feeds its own predictions back).
    teacher_forcing: bool = False
    # last_value: the model sees each window minus its last row and adds the targets' last
    # values back to its outputs, so it learns changes, not levels: it follows a trend past
    # the range it was trained on (many_to_one, direct, one_to_many; stateless).
    residual: Literal["none", "last_value"] = "none"

    def decoder_layers(self) -> list[LayerSpec]:
        if self.decoder is not None:
            return list(self.decoder)
        return [LayerSpec(type=e.type, units=e.units * (2 if e.bidirectional else 1))
                for e in self.layers]


class OptimizerSpec(_Spec):
    name: Literal["adam", "rmsprop", "sgd"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0.0)


class EarlyStoppingSpec(_Spec):
    enabled: bool = True
    patience: int = Field(default=10, gt=0)
    min_delta: float = Field(default=0.0, ge=0.0)


class TrainingSpec(_Spec):
    # stateless: independent windows, shuffled, state starts from zero in every window.
    # stateful: series are rows of a fixed-size batch, cut into consecutive chunks; the state
    # carries from chunk to chunk (see docs/stateful.md).
    mode: Literal["stateless", "stateful"] = "stateless"
    # stateless: windows per gradient step. stateful: rows (series or segments) per batch.
    batch_size: int = Field(default=32, gt=0)
    # stateful only: time steps per chunk (truncated backpropagation). None: window.look_back.
    chunk_length: int | None = Field(default=None, gt=0)
    epochs: int = Field(default=100, gt=0)
    optimizer: OptimizerSpec = OptimizerSpec()
    loss: Literal["mse", "mae", "huber"] = "mse"
    early_stopping: EarlyStoppingSpec = EarlyStoppingSpec()
    # Fraction of each series, at its end, held out for validation (chronological split).
    validation: float = Field(default=0.1, ge=0.0, lt=0.9)
    shuffle: bool = True
    seed: int = 42
    # Compile the training step with XLA: about 2x faster epochs on CPU, same model. None:
    # on, except for seq2seq, whose unrolled decoder takes XLA ~20 s to compile.
    jit_compile: bool | None = None
    # Write a checkpoint (weights, optimizer state, epoch count) every N epochs, for
    # `train --resume` after a crash or a signal. 0: none.
    checkpoint_every: int = Field(default=1, ge=0)
    # tf.distribute: none | mirrored (this machine's GPUs, else its CPU) | multi_worker (the
    # cluster in TF_CONFIG). batch_size is then per replica (see docs/scaling.md).
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    # Prediction intervals (80%, 95%) from rollouts over the validation tail, for this many
    # steps ahead; rollout adds <target>_lo_80 ... columns. 0: none. See docs/evaluation.md.
    interval_steps: int = Field(default=24, ge=0)


class Config(_Spec):
    data: DataSpec = DataSpec()
    window: WindowSpec
    model: ModelSpec
    training: TrainingSpec = TrainingSpec()

    @model_validator(mode="after")
    def _combinations(self) -> Config:
        """Combinations that cannot work fail here, with the reason and the fix."""
        one_step = {"many_to_many": "model.topology: many_to_many predicts the next step at "
                                    "every time step",
                    "stateful": "training.mode: stateful predicts one step at a time"}
        reason = None
        if self.model.topology == "many_to_many":
            reason = one_step["many_to_many"]
        elif self.training.mode == "stateful":
            reason = one_step["stateful"]
        if reason and self.window.horizon != 1:
            raise ValueError(f"window.horizon: {reason}; longer forecasts come from `lstmcli "
                             f"rollout`. Set window.horizon: 1. Received: {self.window.horizon}")
        for i, layer in enumerate(self.model.layers):
            where = f"model.layers[{i}]"
            if layer.type == "simple_rnn" and layer.recurrent_activation is not None:
                raise ValueError(f"{where}.recurrent_activation: simple_rnn has no gates; remove "
                                 "it or use type: lstm or gru")
            if layer.bidirectional and (self.model.topology == "many_to_many"
                                        or self.training.mode == "stateful"):
                raise ValueError(f"{where}.bidirectional: a backward pass would let every step "
                                 "see the future it is asked to predict (many_to_many and "
                                 "stateful models predict step by step); use it with "
                                 "many_to_one, direct or one_to_many, or remove it")
        self._check_seq2seq()
        if self.window.look_back is None:
            if self.model.topology != "many_to_many" or self.training.mode != "stateless":
                raise ValueError("window.look_back: null (variable-length sequences) trains on "
                                 "each whole series and predicts the next step at every step: "
                                 "it needs model.topology: many_to_many and training.mode: "
                                 "stateless (for carried state, use training.mode: stateful "
                                 "with a look_back or chunk_length)")
        elif self.window.padding:
            raise ValueError("window.padding: only used with window.look_back: null "
                             "(variable-length sequences)")
        if self.training.mode == "stateful" and self.model.topology not in ("many_to_one",
                                                                              "many_to_many"):
            raise ValueError(f"model.topology: {self.model.topology} emits the whole horizon "
                             "from one window and has no state to carry; stateful training needs "
                             "many_to_many (recommended) or many_to_one")
        if self.training.mode == "stateless" and self.training.chunk_length is not None:
            raise ValueError("training.chunk_length: only used with training.mode: stateful; "
                             "remove it or set the mode")
        if self.model.residual != "none" and (
                self.model.topology not in ("many_to_one", "direct", "one_to_many")
                or self.training.mode == "stateful" or self.variable_length):
            raise ValueError("model.residual: last_value needs a fixed window whose last row "
                             "it can subtract: topology many_to_one, direct or one_to_many, "
                             "stateless, with a window.look_back")
        if self.data.stream and (self.data.calendar or self.training.distribute != "none"
                                 or self.data.scale_per_series or self.data.future):
            raise ValueError("data.stream: streaming does not support data.calendar, "
                             "data.future, data.scale_per_series or training.distribute yet; "
                             "turn one of them off")
        if self.training.distribute != "none" and self.training.mode == "stateful":
            raise ValueError("training.distribute: stateful training runs unsharded: a strategy "
                             "splits every batch's rows across replicas, each with its own copy "
                             "of the state, so row j of batch k would no longer meet its state "
                             "from batch k-1 on the same replica; use distribute: none")
        if self.training.distribute != "none" and self.variable_length:
            raise ValueError("training.distribute: variable-length sequences (window.look_back: "
                             "null) are not supported under a strategy; use distribute: none or "
                             "a fixed look_back")
        return self

    def _check_seq2seq(self) -> None:
        m = self.model
        if m.topology != "seq2seq":
            for key, value in (("decoder", m.decoder), ("teacher_forcing", m.teacher_forcing)):
                if value:
                    raise ValueError(f"model.{key}: only used with model.topology: seq2seq")
            return
        decoder = m.decoder_layers()
        if len(decoder) != len(m.layers):
            raise ValueError(f"model.decoder: each encoder layer passes its states to one decoder "
                             f"layer, so give {len(m.layers)} decoder layer(s). "
                             f"Received: {len(decoder)}")
        for i, (enc, dec) in enumerate(zip(m.layers, decoder, strict=True)):
            need = enc.units * (2 if enc.bidirectional else 1)
            if dec.bidirectional:
                raise ValueError(f"model.decoder[{i}].bidirectional: the decoder runs forward "
                                 "one step at a time, feeding its own output back; a backward "
                                 "pass has nothing to read. Remove it")
            if dec.type != enc.type or dec.units != need:
                raise ValueError(f"model.decoder[{i}]: it starts from the states of "
                                 f"model.layers[{i}], so it must be type {enc.type} with {need} "
                                 f"units. Received: type {dec.type}, units {dec.units}")

    @property
    def chunk_length(self) -> int | None:
        return self.training.chunk_length or self.window.look_back

    @property
    def variable_length(self) -> bool:
        return self.window.look_back is None


def format_loc(loc: tuple[Any, ...]) -> str:
    """('model', 'layers', 1, 'units') -> 'model.layers[1].units'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the parent of `loc`, found by walking the schema."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        for candidate in getattr(ann, "__args__", ()) + (ann,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return []
    return list(model.model_fields)


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key; {hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error" and not loc:
        return str(err.get("ctx", {}).get("error", err["msg"]))
    received = err.get("input")
    msg = err["msg"]
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        msg = msg.replace("Input should be", "must be")
    return f"{msg}. Received: {_short(repr(received))}"


def _short(text: str, limit: int = 80) -> str:
    """A value as shown in an error: long ones (a YAML alias bomb) cut to `limit` chars."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (PyYAML
    silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def config_from_dict(raw: Any, *, source: str = "config") -> Config:
    """Validate a parsed YAML document into a Config, or raise ConfigError naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping with keys "
                          "data, window, model, training")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        lines = [_describe(e) if e["type"] == "value_error" and not e["loc"]
                 else f"{format_loc(tuple(e['loc']))}: {_describe(e)}" for e in errors[:3]]
        more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
        raise ConfigError(f"{source}: " + "; ".join(lines) + more) from None


def load_config(path: str | Path) -> Config:
    """Read a YAML config safely and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(exc, 'problem', exc)})") from None
    return config_from_dict(raw, source=str(path))
