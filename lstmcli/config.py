"""The YAML config as typed objects: load, validate, and report errors by key path.

Every section forbids unknown keys, so a misspelt key fails before any work starts:

    >>> load_config("bad.yaml")
    ConfigError: bad.yaml: window.look_bak: unknown key; did you mean 'look_back'?

The resolved config is stored verbatim in a run directory's bundle.json and
reloaded from there (`Config.model_validate(cfg.model_dump()) == cfg`).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lstmcli.errors import ConfigError

# Limits no real config reaches; past them the work would exhaust memory or never finish, so
# they are refused before any work starts (docs/config.md lists them).
MAX_STEPS = 100_000  # look_back, horizon, chunk_length, interval_steps: time steps
MAX_COUNT = 1_000_000  # batch_size, stride, epochs, patience, checkpoint_every
MAX_UNITS = 1_000_000  # units of one layer (the weights estimate below binds far sooner)
MAX_LAYERS = 100  # model.layers, model.dense, model.decoder
MAX_WEIGHTS = 500_000_000  # the model's weights: 2 GB at 4 bytes each
MAX_SEQ2SEQ_HORIZON = 1_000  # seq2seq unrolls its decoder once per horizon step
MAX_SEED = 2**32 - 1  # NumPy's seeds are 32-bit
MAX_CONFIG_BYTES = 1_000_000  # a config file
MAX_DEPTH = 100  # nesting of YAML sequences and mappings
# Values in the document, each alias counted as the copy it stands for. PyYAML's pure-Python
# parser takes about 0.05 ms per value, so this also bounds the time to read a config.
MAX_VALUES = 10_000

# Element-wise activations that every Keras 3 release has (softmax and friends normalise
# across units, which makes no sense for a recurrent cell's output).
ACTIVATIONS = ("tanh", "sigmoid", "hard_sigmoid", "relu", "relu6", "leaky_relu", "elu", "selu",
               "gelu", "silu", "swish", "hard_silu", "hard_swish", "mish", "softplus",
               "softsign", "linear", "exponential")


def _activation(value: str) -> str:
    name = value.strip().lower()
    if name not in ACTIVATIONS:
        raise PydanticCustomError("activation", "unknown activation; use one of "
                                  + ", ".join(ACTIVATIONS))
    return name


Activation = Annotated[str, AfterValidator(_activation)]


CELL_TYPES = ("lstm", "gru", "simple_rnn")


def _cell_type(value):
    """A cell type in any case (`LSTM`, `Gru`); anything else is left as written for the
    type check to name."""
    if isinstance(value, str) and value.strip().lower() in CELL_TYPES:
        return value.strip().lower()
    return value


# A recurrent cell type, in any case (`type: LSTM` is `lstm`).
CellType = Annotated[Literal["lstm", "gru", "simple_rnn"], BeforeValidator(_cell_type)]


def _freq(value: str | None) -> str | None:
    """data.freq: a pandas frequency alias or a whole number of steps (which of the two the
    time column needs is checked when the data is read), refused before any data is read."""
    if value is None:
        return None
    from lstmcli.data import timegrid  # pandas: only when a frequency is given (not for --help)

    if timegrid.given(value, "i") is None and timegrid.given(value, "M") is None:
        raise PydanticCustomError("freq", "not a pandas frequency alias such as D, h, 15min, "
                                  "W-SUN, MS, QS, YS, nor a whole number of steps; set "
                                  "data.freq (--freq) to one")
    return value


# data.freq: a pandas alias ("D", "h", "MS", ...) or a step ("7") for step numbers
Freq = Annotated[str | None, AfterValidator(_freq)]


class _Spec(BaseModel):
    # strict: `units: true` or `epochs: "10"` are mistakes, not 1 and 10; inf and nan are
    # never meant (a learning_rate of .inf trains to NaN)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DataSpec(_Spec):
    """Which columns of the CSV mean what."""

    # Time column. None: a column named ds/date/time/day/... (data.TIME_NAMES), else the one
    # text column of dates, otherwise the rows are taken as equally spaced steps 0, 1, 2, ...
    time: str | None = None
    # Series-id column of a long-format file. None: `unique_id` if present, else the one text
    # column whose values name series beside a time column (data.recognise), else one series.
    series: str | None = None
    # Input columns. None: every numeric column except the time and series columns.
    features: list[str] | None = Field(default=None, min_length=1)
    # Predicted columns. None: the same as the features (what rollout needs).
    targets: list[str] | None = Field(default=None, min_length=1)
    # Missing values: refuse by default, so gaps are never filled silently.
    missing: Literal["error", "interpolate", "ffill", "drop"] = "error"
    # Scaling is fitted on the training part only. LSTMs trained on raw values saturate
    # their tanh gates and cannot extrapolate, so "none" is for data already in [-1, 1].
    scaling: Literal["minmax", "standard", "mean", "none"] = "minmax"
    # Long format: scale each series by its own training rows (series of very different
    # levels then train one global model on comparable inputs). False: one scaler for all.
    scale_per_series: bool = False
    # Pandas frequency alias ("D", "h", "MS", ...; a step for step numbers). None: inferred
    # from the timestamps, through gaps (timegrid). Missing time stamps are rows of missing
    # values for data.missing.
    freq: Freq = None
    # Steps per season (12 for monthly data with a yearly cycle): the Seasonal-Naive baseline
    # and MASE's scale in backtests. None: from the frequency (h 24, D 7, W 52, MS 12, ...).
    season_length: int | None = Field(default=None, gt=0, le=1_000_000_000)
    # Calendar features added as inputs (sin/cos pairs), known for future steps, so rollout
    # feeds them instead of predicting them. Needs timestamps.
    calendar: list[Literal["hour", "dayofweek", "dayofmonth", "dayofyear", "weekofyear",
                           "month"]] = []
    # Covariates known ahead (planned promotions, prices): inputs aligned with the step being
    # predicted, given for the horizon with `rollout --future FILE.csv`.
    future: list[str] = []
    # Larger than memory: the series store lives in memory-mapped files (beside the run
    # while it trains, in a temporary directory for predict/rollout), not in memory.
    stream: bool = False


class WindowSpec(_Spec):
    """How a series becomes [samples, time_steps, features] windows."""

    # Input time steps per sample. null: variable-length sequences - each series is one
    # sample of its own length, input shape (None, features); needs many_to_many.
    look_back: int | None = Field(gt=0, le=MAX_STEPS)
    horizon: int = Field(default=1, gt=0, le=MAX_STEPS)  # steps predicted per sample
    # steps between the starts of consecutive samples
    stride: int = Field(default=1, gt=0, le=MAX_COUNT)
    # Variable-length sequences only: pad each batch to its longest sequence (masked) instead
    # of batching only sequences of equal length.
    padding: bool = False


class LayerSpec(_Spec):
    """One recurrent layer. `return_sequences` is not a key: it is set by position."""

    type: CellType = "lstm"
    units: int = Field(gt=0, le=MAX_UNITS)
    activation: Activation = "tanh"  # tanh keeps LSTM/GRU on the fused cuDNN kernel on a GPU
    # Gate activation of lstm/gru (simple_rnn has no gates). None: sigmoid, Keras's default.
    recurrent_activation: Activation | None = None
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    recurrent_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    # Also read the window backwards and concatenate both outputs (encoder side only).
    bidirectional: bool = False
    # L2 penalty on the input and recurrent kernels.
    l2: float = Field(default=0.0, ge=0.0, le=10.0)


class DenseSpec(_Spec):
    """A Dense layer between the recurrent stack and the output head."""

    units: int = Field(gt=0, le=MAX_UNITS)
    activation: Activation = "relu"


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
    layers: list[LayerSpec] = Field(min_length=1, max_length=MAX_LAYERS)
    dense: list[DenseSpec] = Field(default_factory=list, max_length=MAX_LAYERS)
    # seq2seq only: decoder layers, one per encoder layer. None: the encoder's types and
    # units (twice the units after a bidirectional encoder layer).
    decoder: list[LayerSpec] | None = Field(default=None, max_length=MAX_LAYERS)
    # seq2seq only: in training, feed the decoder the true previous value instead of its
    # own prediction (faster to learn; inference always feeds its own predictions back).
    teacher_forcing: bool = False
    # last_value: the model sees each window minus its last row and adds the targets' last
    # values back to its outputs, so it learns changes, not levels: it follows a trend past
    # the range it was trained on (many_to_one, direct, one_to_many; stateless).
    # seasonal: as last_value for the inputs, but the outputs are added to the window's last
    # `season` values repeated over the horizon (a Seasonal-Naive forecast the network
    # corrects); model.season steps per cycle.
    residual: Literal["none", "last_value", "seasonal"] = "none"
    season: int = Field(default=1, gt=0, le=MAX_STEPS)
    # linear_skip: the head also reads the whole (normalized) window, flattened: a linear
    # autoregression learnt beside the recurrent layers (many_to_one, direct; stateless).
    linear_skip: bool = False
    # window: each window's target columns are divided by their mean absolute value over
    # the window (its level) before the network and the outputs multiplied back, so series
    # of any level, and a series whose level drifts, reach the network on comparable inputs
    # (as N-BEATS and DeepAR do). Same topologies as residual.
    normalize: Literal["none", "window"] = "none"

    def decoder_layers(self) -> list[LayerSpec]:
        if self.decoder is not None:
            return list(self.decoder)
        return [LayerSpec(type=e.type, units=e.units * (2 if e.bidirectional else 1))
                for e in self.layers]


class OptimizerSpec(_Spec):
    name: Literal["adam", "rmsprop", "sgd"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0.0, le=10.0)
    # plateau: halve the learning rate after a third of early_stopping.patience epochs
    # (at least 2) without a better monitored loss, down to 1/64 of learning_rate.
    schedule: Literal["constant", "plateau"] = "constant"


class EarlyStoppingSpec(_Spec):
    enabled: bool = True
    patience: int = Field(default=10, gt=0, le=MAX_COUNT)
    min_delta: float = Field(default=0.0, ge=0.0)


class TrainingSpec(_Spec):
    # stateless: independent windows, shuffled, state starts from zero in every window.
    # stateful: series are rows of a fixed-size batch, cut into consecutive chunks; the state
    # carries from chunk to chunk (see docs/stateful.md).
    mode: Literal["stateless", "stateful"] = "stateless"
    # stateless: windows per gradient step. stateful: rows (series or segments) per batch.
    batch_size: int = Field(default=32, gt=0, le=MAX_COUNT)
    # stateful only: time steps per chunk (truncated backpropagation). None: window.look_back.
    chunk_length: int | None = Field(default=None, gt=0, le=MAX_STEPS)
    epochs: int = Field(default=100, gt=0, le=MAX_COUNT)
    optimizer: OptimizerSpec = OptimizerSpec()
    # mase: the absolute error divided by each series' mean absolute seasonal difference on
    # its training rows (the MASE metric's scale; the season from the data's frequency)
    loss: Literal["mse", "mae", "huber", "mase"] = "mse"
    early_stopping: EarlyStoppingSpec = EarlyStoppingSpec()
    # Held out for validation at the end of each series (chronological split): a fraction of
    # each series (0.1), or a number of steps (24: the last 24 steps of every series, the
    # forecast a user asks for, whatever the series' length). 0: no validation.
    validation: float = Field(default=0.1, ge=0.0, le=MAX_STEPS)
    # refit: after early stopping on the validation tail, train again from the start on every
    # row (the tail too) for the best epoch count; the model then knows the latest steps.
    refit: bool = False

    @property
    def validation_steps(self) -> int | None:
        """The steps held out at the end of each series, when given as steps."""
        return int(self.validation) if self.validation >= 1 else None
    shuffle: bool = True
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    # Compile the training step with XLA: about 2x faster epochs on CPU, same model. None:
    # on, except for seq2seq, whose unrolled decoder takes XLA ~20 s to compile.
    jit_compile: bool | None = None
    # Write a checkpoint (weights, optimizer state, epoch count) every N epochs, for
    # `train --resume` after a crash or a signal. 0: none.
    checkpoint_every: int = Field(default=1, ge=0, le=MAX_COUNT)
    # tf.distribute: none | mirrored (this machine's GPUs, else its CPU) | multi_worker (the
    # cluster in TF_CONFIG). batch_size is then per replica (see docs/scaling.md).
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    # Prediction intervals (80%, 95%) from rollouts over the validation tail, for this many
    # steps ahead; rollout and predict add <target>_lo_80 ... columns. 0: none. See
    # docs/evaluation.md.
    interval_steps: int = Field(default=24, ge=0, le=MAX_STEPS)
    # Train this many models (seeds seed, seed + 1, ...) and forecast with the median of
    # their outputs, as N-BEATS does; model.keras holds them all as one model.
    ensemble: int = Field(default=1, ge=1, le=50)


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
        if self.per_step:
            reason = one_step["many_to_many"]
        elif self.stateful:
            reason = one_step["stateful"]
        if reason and self.window.horizon != 1:
            raise ValueError(f"window.horizon: {reason}; longer forecasts come from `lstmcli "
                             f"rollout`. Set window.horizon: 1. Received: {self.window.horizon}")
        for i, layer in enumerate(self.model.layers):
            where = f"model.layers[{i}]"
            if layer.type == "simple_rnn" and layer.recurrent_activation is not None:
                raise ValueError(f"{where}.recurrent_activation: simple_rnn has no gates; remove "
                                 "it or use type: lstm or gru")
            if layer.bidirectional and (self.per_step
                                        or self.stateful):
                raise ValueError(f"{where}.bidirectional: a backward pass would let every step "
                                 "see the future it is asked to predict (many_to_many and "
                                 "stateful models predict step by step); use it with "
                                 "many_to_one, direct or one_to_many, or remove it")
        self._check_seq2seq()
        self._check_size()
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
        if self.stateful and self.model.topology not in ("many_to_one",
                                                                              "many_to_many"):
            raise ValueError(f"model.topology: {self.model.topology} emits the whole horizon "
                             "from one window and has no state to carry; stateful training needs "
                             "many_to_many (recommended) or many_to_one")
        if self.training.mode == "stateless" and self.training.chunk_length is not None:
            raise ValueError("training.chunk_length: only used with training.mode: stateful; "
                             "remove it or set the mode")
        if self.model.residual != "none" and (
                self.model.topology not in ("many_to_one", "direct", "one_to_many")
                or self.stateful or self.variable_length):
            raise ValueError(f"model.residual: {self.model.residual} needs a fixed window whose "
                             "last row it can subtract: topology many_to_one, direct or "
                             "one_to_many, stateless, with a window.look_back")
        if self.model.residual == "seasonal" and not (
                2 <= self.model.season <= (self.window.look_back or 0)):
            raise ValueError(f"model.season: {self.model.season} steps; residual: seasonal "
                             "repeats the window's last season, so model.season must be at "
                             f"least 2 and at most window.look_back ({self.window.look_back})")
        if self.training.loss == "mase" and (self.stateful
                                             or self.variable_length):
            raise ValueError("training.loss: mase weighs each training window by its series' "
                             "scale: stateless training with a window.look_back")
        if self.model.linear_skip and (self.model.topology not in ("many_to_one", "direct")
                                       or self.stateful
                                       or self.variable_length):
            raise ValueError("model.linear_skip: the head reads the whole window: topology "
                             "many_to_one or direct, stateless, with a window.look_back")
        if self.training.refit and (self.stateful or self.variable_length
                                    or self.training.distribute != "none"
                                    or self.model.topology == "seq2seq"
                                    or self.training.validation == 0):
            raise ValueError("training.refit: trains again on every row for the epoch count "
                             "early stopping found on the validation tail: needs "
                             "training.validation, stateless windows, no seq2seq "
                             "or training.distribute")
        if self.training.ensemble > 1 and (self.stateful
                                           or self.model.topology == "seq2seq"
                                           or self.training.distribute != "none"):
            raise ValueError("training.ensemble: members are combined by the median of their "
                             "outputs in one stateless model; not with stateful training, "
                             "seq2seq or training.distribute")
        v = self.training.validation
        if 0.9 <= v < 1 or (v >= 1 and v != int(v)):
            raise ValueError(f"training.validation: {v} is neither a fraction of each series "
                             "below 0.9 (such as 0.1) nor a whole number of steps (such as 24)")
        if self.model.normalize != "none" and (
                self.model.topology not in ("many_to_one", "direct", "one_to_many")
                or self.stateful or self.variable_length):
            raise ValueError("model.normalize: window divides each whole window by its level: "
                             "topology many_to_one, direct or one_to_many, stateless, with a "
                             "window.look_back")
        if self.training.distribute != "none" and self.stateful:
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

    def _check_size(self) -> None:
        """Refuse a model whose weights alone would not fit in memory, naming the key that
        contributes most (an estimate with one feature and one target: a lower bound)."""
        m = self.model
        if m.topology == "seq2seq" and self.window.horizon > MAX_SEQ2SEQ_HORIZON:
            raise ValueError(f"window.horizon: seq2seq unrolls its decoder once per step, so "
                             f"{self.window.horizon} steps would take hours to build; use at "
                             f"most {MAX_SEQ2SEQ_HORIZON} or another topology (many_to_one, "
                             f"direct)")
        parts = _weights(m, look_back=self.window.look_back or 1, horizon=self.window.horizon)
        total = sum(n for _, n in parts)
        if total > MAX_WEIGHTS:
            where, _ = max(parts, key=lambda p: p[1])
            fix = ("use a shorter horizon or fewer units before the output layer (it has "
                   "horizon x (units + 1) weights)" if where == "window.horizon" else
                   "use fewer units (a Dense layer has units x (inputs + 1) weights)"
                   if where.startswith("model.dense") else
                   "use fewer units (an LSTM layer has 4 x units x (inputs + units + 1) "
                   "weights)")
            raise ValueError(f"{where}: the model would need at least {total:,} weights "
                             f"({total * 4 / 1e9:,.1f} GB at 4 bytes each, before the "
                             f"optimizer's copies), over the limit of {MAX_WEIGHTS:,} (2 GB); "
                             f"{fix}")

    @property
    def chunk_length(self) -> int | None:
        return self.training.chunk_length or self.window.look_back

    @property
    def variable_length(self) -> bool:
        return self.window.look_back is None

    @property
    def stateful(self) -> bool:
        """training.mode: stateful (state carried across batches)."""
        return self.training.mode == "stateful"

    @property
    def per_step(self) -> bool:
        """A many_to_many model: trained on, and predicting, the next step at every step."""
        return self.model.topology == "many_to_many"

    @property
    def teacher_forced(self) -> bool:
        """A seq2seq decoder trained on the previous true targets (teacher forcing)."""
        return self.model.topology == "seq2seq" and self.model.teacher_forcing


def _weights(m: ModelSpec, *, look_back: int, horizon: int) -> list[tuple[str, int]]:
    """(key path, weights) of each layer of `m`, with one feature and one target."""
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}
    parts: list[tuple[str, int]] = []

    def recurrent(stack: list[LayerSpec], name: str, width: int) -> int:
        for i, layer in enumerate(stack):
            u, k = layer.units, 2 if layer.bidirectional else 1
            # Keras's GRU (reset_after) has a second bias; LSTM and SimpleRNN one
            bias = 2 * u if layer.type == "gru" else u
            weights = k * gates[layer.type] * (u * (width + u) + bias)
            parts.append((f"model.{name}[{i}].units", weights))
            width = k * u
        return width

    first = look_back if m.topology == "one_to_many" else 1  # the window flattened
    width = recurrent(list(m.layers), "layers", first)
    if m.topology == "seq2seq":
        width = recurrent(m.decoder_layers(), "decoder" if m.decoder else "layers", 1)
    for j, dense in enumerate(m.dense):
        parts.append((f"model.dense[{j}].units", dense.units * (width + 1)))
        width = dense.units
    per_step = m.topology in ("many_to_many", "one_to_many", "seq2seq")
    parts.append(("window.horizon", width + 1 if per_step else horizon * (width + 1)))
    return parts


def format_loc(loc: tuple[Any, ...]) -> str:
    """('model', 'layers', 1, 'units') -> 'model.layers[1].units'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            text = text if text.isprintable() else repr(text)  # a key holding a line break
            out += ("." if out else "") + _short(text, 40)
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
    if kind == "less_than_equal" and loc and loc[-1] in _LIMITS:
        msg += f" ({_LIMITS[loc[-1]]})"
    return f"{msg}. Received: {_short(repr(received))}"


# Why each upper limit is there, shown with it.
_STEPS = "a limit no real series needs; beyond it the arrays would not fit in memory"
_LIMITS = {
    "look_back": _STEPS, "horizon": _STEPS, "chunk_length": _STEPS, "interval_steps": _STEPS,
    "batch_size": "a limit no real data set needs; one batch must fit in memory",
    "stride": "a limit no real series needs", "season_length": "a limit no real series needs",
    "epochs": "a limit no real training needs", "patience": "a limit no real training needs",
    "checkpoint_every": "a limit no real training needs",
    "units": "a limit no real model needs; its weights would not fit in memory",
    "seed": "seeds are 32-bit: 0 to 4294967295",
    "learning_rate": "larger steps diverge to NaN",
    "l2": "a larger penalty only drives every weight to 0",
}


def _short(text: str, limit: int = 80) -> str:
    """A value as shown in an error: long ones (a YAML alias bomb) cut to `limit` chars."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (PyYAML
    silently keeps the last one), a key must be a plain value, and nesting is bounded."""

    depth = 0  # of the node being composed
    nodes = 0  # composed so far (an alias adds none: it is its anchor's node again)

    def compose_node(self, parent, index):
        # composing recurses once per level: 20,000 brackets would end in RecursionError
        self.depth += 1
        try:
            problem = None
            if self.depth > MAX_DEPTH:
                problem = f"nested more than {MAX_DEPTH} levels deep"
            elif not self.check_event(yaml.AliasEvent):
                self.nodes += 1
                if self.nodes > MAX_VALUES:
                    problem = f"more than {MAX_VALUES:,} values; a config needs far fewer"
            if problem:
                raise yaml.composer.ComposerError(None, None, problem,
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # `? [a, b]` or `{[1]: 2}`: PyYAML would fail on `key in seen`
                kind = {list: "list", dict: "mapping", set: "set"}.get(type(key), "collection")
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value such as a name, not a {kind}",
                    key_node.start_mark) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{_short(str(key), 40)}' appears twice in one mapping",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document that is small as text but huge once its aliases are expanded (a
    "billion laughs" bomb), or whose aliases form a cycle, before any Python object is built.

    An alias is the node of its anchor again, so the expanded size and depth of every node
    are computed once (memoised), walking the graph without recursion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()  # the nodes on the path being walked
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        kids = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                else node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            size[id(node)] = 1 + sum(size[id(k)] for k in kids)
            depth[id(node)] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(id(node))
            if size[id(node)] > MAX_VALUES or depth[id(node)] > MAX_DEPTH:
                what = (f"more than {MAX_VALUES:,} values" if size[id(node)] > MAX_VALUES
                        else f"nesting more than {MAX_DEPTH} levels deep")
                raise yaml.composer.ComposerError(
                    None, None, f"its aliases expand to {what}; a config needs far fewer",
                    node.start_mark)
            continue
        if id(node) in size:
            continue
        if id(node) in open_:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to the collection it is in", node.start_mark)
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _parse(text: str) -> Any:
    """The YAML document in `text` as Python objects, within the limits above."""
    # Fast path for the worst case: PyYAML scans up to 1024 characters ahead of every
    # "[" or "{" for a possible key, so a run of brackets costs it half a second to reach
    # the composer's depth check below. A run of openers is found here in one pass.
    for run in re.finditer(r"[\[{][\[{\s]*", text):
        openers = [i for i, c in enumerate(run.group(), run.start()) if c in "[{"]
        if len(openers) > MAX_DEPTH:
            at = openers[MAX_DEPTH]
            line = text.count("\n", 0, at)
            mark = yaml.Mark("<config>", at, line, at - (text.rfind("\n", 0, at) + 1), None,
                             None)
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} "
                                              "levels deep", mark)
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """' line L, column C: invalid YAML (problem)' on one line."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f" line {line}: invalid YAML (character #x{char:04x} is not allowed in YAML)"
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
    problem = re.sub(r"\s*\n\s*", " ", str(getattr(exc, "problem", None) or exc))
    return f"{where} invalid YAML ({problem})"


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
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # a bounded read: the path may be /dev/zero
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: cannot read config: is a directory; give the YAML "
                          "file itself") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read config: permission denied") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"{path}: cannot read config: {reason}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: the config is over {MAX_CONFIG_BYTES:,} bytes; a config "
                          "needs a few hundred")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                          "text; save the config as UTF-8") from None
    try:
        raw = _parse(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}:{_yaml_problem(exc, text)}") from None
    return config_from_dict(raw, source=str(path))
