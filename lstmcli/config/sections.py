"""The config's sections as pydantic models (data, window, model, training), the value
types their keys share (activations, cell types, data.freq) and the limits on a config.

Each section checks its own keys: types (strict: `epochs: "10"` is a mistake, not 10),
ranges and unknown keys. What spans sections (a topology with a training mode, a model's
size) is checked by `Config` in config/spec.py; `lstmcli.config` re-exports both.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

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
    # Windows may start before a series: a window needs only this many of the series' own
    # rows, the rest of look_back repeats its first row. Series shorter than look_back then
    # train and are forecast by the model. null: look_back (every window inside its series).
    min_input: int | None = Field(default=None, gt=0, le=MAX_STEPS)
    # Train only on the most recent windows: those whose targets end within the last
    # `history` rows of each series' training rows (N-BEATS's history limit). null: all.
    history: int | None = Field(default=None, gt=0, le=MAX_STEPS)


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
    # damping: from the second season of the forecast on, each step's change over the step
    # a season before is multiplied by damping per season into the horizon (the second
    # season's change by damping, the third's by damping squared, ...): a damped trend,
    # as exponential smoothing damps it. 1 changes nothing; 0 repeats the first season.
    # Applied when forecasting, not while training (the network learns the undamped
    # future); the validation loss, early stopping and the intervals see the damped
    # forecast. model.season steps per cycle (1: every step, as for yearly data).
    # many_to_one, direct, one_to_many; stateless.
    damping: float = Field(default=1.0, ge=0.0, le=1.0)

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
    # Input lengths of the members: member k reads only the last ensemble_inputs[k] steps of
    # the window (the list repeats over the members), as N-BEATS ensembles over lookbacks.
    # null: every member reads the whole window.
    ensemble_inputs: list[Annotated[int, Field(gt=0, le=MAX_STEPS)]] | None = Field(
        default=None, min_length=1, max_length=50)
    # Which members are early-stopped on the validation tail: each (every member, then each
    # refit for its own best epoch count), or first (with training.refit: only the first;
    # the others train only in the refit, for its epoch count: K members for the cost of one
    # early-stopped model and K refits).
    ensemble_validation: Literal["each", "first"] = "each"
