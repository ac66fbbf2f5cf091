"""Config -> keras.Model. Builds the network only; training lives in train.py."""

from __future__ import annotations

from lstmcli.config import ModelSpec
from lstmcli.models.backend import import_keras
from lstmcli.training.windows import PAD

_CELLS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


def build_model(spec: ModelSpec, *, look_back: int, n_features: int, horizon: int,
                n_targets: int, stateful: bool = False, batch_size: int | None = None,
                per_step: bool = False, first_input: list[int | None] | None = None,
                teacher_forcing: bool = False, masking: bool = False):
    """Build the topology in `spec`.

    many_to_one: (batch, look_back, features) -> (batch, horizon, targets). Every recurrent
    layer that feeds another returns its whole sequence; the last returns only its final
    output; a Dense head emits horizon x targets values, reshaped to (horizon, targets).

    many_to_many: (batch, time, features) -> (batch, time, targets). Every layer returns
    sequences and the head (a Dense applied at each step, i.e. TimeDistributed(Dense))
    predicts the next step from every step. The time axis is free.

    direct: as many_to_one; the name says the horizon is emitted at once.

    one_to_many: (batch, look_back, features) -> flattened to one vector -> RepeatVector
    (horizon) -> recurrent layers returning sequences -> a head at each of the horizon steps
    -> (batch, horizon, targets).

    stateful=True: a fixed `batch_size` (Keras needs it for the state variables), a free time
    axis and a Masking layer in front, so padding steps (value PAD) leave the state as it is.
    per_step=True builds the many_to_many form of a many_to_one model with the same weights
    (horizon must be 1): used to read a stateful model's prediction at every step.

    masking=True adds the Masking layer without state (variable-length sequences padded
    to the longest in their batch).

    seq2seq: see `_seq2seq`; `first_input` maps each target to its feature column (None when
    a target is not a feature), `teacher_forcing` builds the two-input training variant.
    """
    keras = import_keras()
    layers = keras.layers
    if spec.topology == "seq2seq":
        return _seq2seq(keras, spec, look_back=look_back, n_features=n_features,
                        horizon=horizon, n_targets=n_targets, first_input=first_input,
                        teacher_forcing=teacher_forcing)
    sequences_out = per_step or spec.topology == "many_to_many"
    time_steps = None if (stateful or sequences_out) else look_back
    inputs = window = keras.Input(batch_shape=(batch_size if stateful else None, time_steps,
                                               n_features), name="window")
    masked = stateful or masking
    x = layers.Masking(mask_value=PAD, name="padding")(inputs) if masked else inputs
    residual = spec.residual != "none" and not sequences_out
    normalize = spec.normalize == "window" and not sequences_out
    if normalize:  # each window over its own level: comparable inputs at any level
        levels = custom_layers()["WindowLevel"](columns=_target_columns(first_input),
                                                name="window_level")(inputs)
        x = inputs = custom_layers()["Divide"](name="normalized")([x, levels])
    if residual:  # the window relative to its last row: changes, not levels
        last_row = layers.Cropping1D((look_back - 1, 0), name="last_step")(inputs)
        x = layers.Subtract(name="changes")([x, last_row])
    window_vector = layers.Flatten(name="window_vector")(x) if spec.linear_skip else None
    if spec.topology == "one_to_many":
        x = layers.Flatten(name="vector")(x)  # the one input: the window as a single vector
        x = layers.RepeatVector(horizon, name="repeat")(x)  # (batch, horizon, vector)
        sequences_out = True
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        x = _recurrent(keras, layer, name=f"{layer.type}_{i}", stateful=stateful,
                       return_sequences=sequences_out or i < last)(x)
    for j, dense in enumerate(spec.dense):
        x = layers.Dense(dense.units, activation=dense.activation, name=f"dense_{j}")(x)
    if sequences_out:
        outputs = layers.Dense(n_targets, name="head")(x)  # applied at every time step
    else:
        if window_vector is not None:  # the head reads the window too: a linear skip
            x = layers.Concatenate(name="with_window")([x, window_vector])
        x = layers.Dense(horizon * n_targets, name="head")(x)
        outputs = layers.Reshape((horizon, n_targets), name="forecast")(x)
    if residual:  # ... plus the targets' last values (or last season): levels again
        level = _select(keras, first_input, n_features, n_targets, name="last_targets")
        base = last_row if spec.residual == "last_value" else custom_layers()[
            "SeasonalRepeat"](season=spec.season, horizon=horizon, name="last_season")(inputs)
        outputs = layers.Add(name="level")([outputs, level(base)])
    if normalize:  # ... times each target's window level: the series' own units again
        scale = _select(keras, first_input, n_features, n_targets, name="target_levels")
        outputs = layers.Multiply(name="denormalized")([outputs, scale(levels)])
    if spec.damping < 1 and horizon > spec.season and not per_step \
            and spec.topology != "many_to_many":  # ... and the trend damped when forecasting
        outputs = custom_layers()["Damped"](season=spec.season, horizon=horizon,
                                            damping=spec.damping, name="damped")(outputs)
    return keras.Model(window, outputs, name=spec.topology)


def _target_columns(first_input: list[int | None] | None) -> list[int]:
    from lstmcli.errors import ConfigError

    if first_input is None or any(f is None for f in first_input):
        raise ConfigError("model.normalize: window scales each target by its own level in the "
                          "window, so every target must also be a feature (data.targets "
                          "within data.features)")
    return sorted(set(first_input))


_CUSTOM: dict = {}


def custom_layers() -> dict:
    """lstmcli's own Keras layers, registered for saving and safe loading (no code in the
    model file: they are found by name). Defined on first use: Keras loads lazily."""
    if _CUSTOM:
        return _CUSTOM
    import numpy as np

    keras = import_keras()
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="lstmcli")
    class WindowLevel(keras.layers.Layer):
        """(batch, time, features) -> (batch, 1, features): the mean absolute value over the
        window of each column in `columns` (at least `floor`), 1 for the other columns."""

        def __init__(self, columns, floor: float = 1e-3, **kw):
            super().__init__(**kw)
            self.columns, self.floor = list(columns), float(floor)

        def call(self, x):
            width = x.shape[-1]
            keep = np.zeros(width, dtype="float32")
            keep[self.columns] = 1.0
            keep = ops.convert_to_tensor(keep)
            level = ops.maximum(ops.mean(ops.abs(x), axis=1, keepdims=True), self.floor)
            return level * keep + (1.0 - keep)

        def compute_output_shape(self, shape):
            return (shape[0], 1, shape[-1])

        def get_config(self):
            return {**super().get_config(), "columns": self.columns, "floor": self.floor}

    @keras.saving.register_keras_serializable(package="lstmcli")
    class Divide(keras.layers.Layer):
        """x / levels, broadcast over time."""

        def call(self, inputs):
            x, levels = inputs
            return x / levels

        def compute_output_shape(self, shapes):
            return shapes[0]

    @keras.saving.register_keras_serializable(package="lstmcli")
    class Median(keras.layers.Layer):
        """The element-wise median of several same-shaped outputs (an ensemble's)."""

        def call(self, inputs):
            return ops.median(ops.stack(inputs, axis=0), axis=0)

        def compute_output_shape(self, shapes):
            return shapes[0]

    @keras.saving.register_keras_serializable(package="lstmcli")
    class SeasonalRepeat(keras.layers.Layer):
        """(batch, time, features) -> (batch, horizon, features): the window's last `season`
        rows repeated over the horizon (step h is row time - season + h mod season)."""

        def __init__(self, season: int, horizon: int, **kw):
            super().__init__(**kw)
            self.season, self.horizon = int(season), int(horizon)

        def call(self, x):
            n = x.shape[1]
            rows = [n - self.season + h % self.season for h in range(self.horizon)]
            return ops.take(x, ops.convert_to_tensor(np.array(rows, dtype="int32")), axis=1)

        def compute_output_shape(self, shape):
            return (shape[0], self.horizon, shape[-1])

        def get_config(self):
            return {**super().get_config(), "season": self.season, "horizon": self.horizon}

    @keras.saving.register_keras_serializable(package="lstmcli")
    class Damped(keras.layers.Layer):
        """(batch, horizon, targets) -> the same, each step's change over the step `season`
        before multiplied by damping ** (seasons into the horizon) from the second season
        on: a damped trend. Only when forecasting (training=False, as in predict and in
        Keras's validation); in training the outputs pass unchanged."""

        def __init__(self, season: int, horizon: int, damping: float, **kw):
            super().__init__(**kw)
            self.season, self.horizon = int(season), int(horizon)
            self.damping = float(damping)
            self.matrix = damping_matrix(self.horizon, self.season, self.damping)

        def call(self, x, training=None):
            if training:
                return x
            return ops.einsum("kj,bjt->bkt", ops.convert_to_tensor(self.matrix), x)

        def compute_output_shape(self, shape):
            return shape

        def get_config(self):
            return {**super().get_config(), "season": self.season, "horizon": self.horizon,
                    "damping": self.damping}

    _CUSTOM.update(WindowLevel=WindowLevel, Divide=Divide, Median=Median,
                   SeasonalRepeat=SeasonalRepeat, Damped=Damped)
    return _CUSTOM


def damping_matrix(horizon: int, season: int, damping: float):
    """The (horizon, horizon) matrix D with damped = D @ forecast: steps of the first season
    as they are; then step k = damped step k - season + damping ** (k // season) *
    (forecast k - forecast k - season)."""
    import numpy as np

    eye = np.eye(horizon, dtype="float64")
    rows = [eye[k] for k in range(min(season, horizon))]
    for k in range(season, horizon):
        rows.append(rows[k - season] + damping ** (k // season) * (eye[k] - eye[k - season]))
    return np.stack(rows).astype("float32")


def _select(keras, first_input: list[int | None] | None, n_features: int, n_targets: int, *,
            name: str):
    """A fixed (untrained) Dense that picks each target's feature column."""
    import numpy as np

    from lstmcli.errors import ConfigError

    if first_input is None or any(f is None for f in first_input):
        raise ConfigError("model.residual: last_value adds each target's last input value, so "
                          "every target must also be a feature (data.targets within "
                          "data.features)")
    select = np.zeros((n_features, n_targets), dtype="float32")
    for t, f in enumerate(first_input):
        select[f, t] = 1.0
    return keras.layers.Dense(n_targets, use_bias=False, trainable=False, name=name,
                              kernel_initializer=keras.initializers.Constant(select))


def _recurrent(keras, layer, *, name: str, stateful: bool, return_sequences: bool,
               return_state: bool = False, unroll: bool = False):
    """One recurrent layer from its spec, wrapped in Bidirectional when asked."""
    cell = getattr(keras.layers, _CELLS[layer.type])
    kw = dict(activation=layer.activation, dropout=layer.dropout,
              recurrent_dropout=layer.recurrent_dropout, return_sequences=return_sequences,
              return_state=return_state, stateful=stateful, unroll=unroll)
    if layer.recurrent_activation is not None:
        kw["recurrent_activation"] = layer.recurrent_activation
    if layer.l2 > 0:
        kw["kernel_regularizer"] = keras.regularizers.L2(layer.l2)
        kw["recurrent_regularizer"] = keras.regularizers.L2(layer.l2)
    if stateful and layer.type != "simple_rnn":
        # cuDNN's fused kernel needs right-padded masks and no fully masked row; stateful
        # layouts pad in front and add masked rows, so they keep the generic kernel.
        kw["use_cudnn"] = False
    if layer.bidirectional:
        return keras.layers.Bidirectional(cell(layer.units, **kw), name=name)
    return cell(layer.units, name=name, **kw)


def _seq2seq(keras, spec: ModelSpec, *, look_back: int, n_features: int, horizon: int,
             n_targets: int, first_input: list[int | None] | None, teacher_forcing: bool):
    """Encoder-decoder: (batch, look_back, features) -> (batch, horizon, targets).

    The encoder layers run over the window; each one's final states (return_state) become the
    initial state of the matching decoder layer. The decoder is unrolled for `horizon` steps
    with shared weights: step h reads the previous step's prediction (step 0 reads the
    targets' values at the last input step), carries its own states to step h + 1, and a
    Dense head turns its output into the targets. With `teacher_forcing` the model takes a
    second input, (batch, horizon, targets), whose step h (h >= 1) replaces the prediction of
    step h - 1: the training variant; inference always uses the free-running model. Only
    standard layers are used, so the model loads with safe_mode=True.
    """
    import numpy as np

    layers = keras.layers
    window = keras.Input(shape=(look_back, n_features), name="window")
    inputs = [window]
    x, states = window, []
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        out = _recurrent(keras, layer, name=f"encoder_{i}", stateful=False,
                         return_sequences=i < last, return_state=True)(x)
        x, st = out[0], list(out[1:])
        if layer.bidirectional:  # [forward states..., backward states...] -> concatenated
            half = len(st) // 2
            st = [layers.Concatenate(name=f"encoder_{i}_state_{k}")([st[k], st[k + half]])
                  for k in range(half)]
        states.append(st)
    # Step 0's input: the targets' values at the last input step (0 for a target that is not
    # a feature), picked by a fixed selection matrix.
    select = np.zeros((n_features, n_targets), dtype="float32")
    for t, f in enumerate(first_input or [None] * n_targets):
        if f is not None:
            select[f, t] = 1.0
    last_step = layers.Cropping1D((look_back - 1, 0), name="last_step")(window)
    prev = layers.Dense(n_targets, use_bias=False, trainable=False, name="first_input",
                        kernel_initializer=keras.initializers.Constant(select))(last_step)
    if teacher_forcing:
        teacher = keras.Input(shape=(horizon, n_targets), name="previous_targets")
        inputs.append(teacher)
    # Each decoder call reads one step: unrolled, it is a plain cell call instead of a
    # one-iteration while loop (tracing the 12-step decoder took ~20 s as loops, far less so).
    decoders = [_recurrent(keras, d, name=f"decoder_{j}", stateful=False,
                           return_sequences=True, return_state=True, unroll=True)
                for j, d in enumerate(spec.decoder_layers())]
    dense = [layers.Dense(d.units, activation=d.activation, name=f"dense_{j}")
             for j, d in enumerate(spec.dense)]
    head = layers.Dense(n_targets, name="head")
    outputs = []
    for h in range(horizon):
        if teacher_forcing and h > 0:
            prev = layers.Cropping1D((h, horizon - h - 1), name=f"teacher_{h}")(teacher)
        z = prev
        for j, dec in enumerate(decoders):
            out = dec(z, initial_state=states[j])
            z, states[j] = out[0], list(out[1:])
        for d in dense:
            z = d(z)
        prev = head(z)  # (batch, 1, targets)
        outputs.append(prev)
    out = outputs[0] if horizon == 1 else layers.Concatenate(axis=1, name="forecast")(outputs)
    return keras.Model(inputs, out, name="seq2seq")


def member(spec: ModelSpec, *, reads: int, **shape):
    """An ensemble member that reads only the last `reads` steps of the window
    (training.ensemble_inputs): the model built for `reads` steps behind a Cropping1D, so
    every member takes the same window (and the median of them one input)."""
    look_back = shape["look_back"]
    model = build_model(spec, **{**shape, "look_back": reads})
    if reads == look_back:
        return model
    keras = import_keras()
    window = keras.Input(shape=(look_back, shape["n_features"]), name="window")
    last = keras.layers.Cropping1D((look_back - reads, 0), name=f"last_{reads}")(window)
    return keras.Model(window, model(last), name=f"reads_{reads}")


def median_of(members: list):
    """One model whose output is the median of the members' outputs (same input); saved,
    loaded and run like any other model, so every forecasting path uses all members."""
    keras = import_keras()
    first = members[0]
    window = keras.Input(batch_shape=first.inputs[0].shape, name="window")
    outs = []
    for k, member in enumerate(members):
        member.name = f"member_{k}"
        outs.append(member(window))
    return keras.Model(window, custom_layers()["Median"](name="median")(outs),
                       name=f"ensemble_of_{len(members)}")


def copy_weights(source, target) -> None:
    """Copy weights layer by layer, by name (for models of different wiring)."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def reset_states(model) -> None:
    """Zero the state of every stateful layer (Keras 3 has no model.reset_states())."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
