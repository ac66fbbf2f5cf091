"""Config -> keras.Model. Builds the network only; training lives in train.py."""

from __future__ import annotations

from lstmcli.backend import import_keras
from lstmcli.config import ModelSpec
from lstmcli.windows import PAD

_CELLS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


def build_model(spec: ModelSpec, *, look_back: int, n_features: int, horizon: int,
                n_targets: int, stateful: bool = False, batch_size: int | None = None,
                per_step: bool = False):
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
    """
    keras = import_keras()
    layers = keras.layers
    sequences_out = per_step or spec.topology == "many_to_many"
    time_steps = None if (stateful or sequences_out) else look_back
    inputs = keras.Input(batch_shape=(batch_size if stateful else None, time_steps, n_features),
                         name="window")
    x = layers.Masking(mask_value=PAD, name="padding")(inputs) if stateful else inputs
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
        x = layers.Dense(horizon * n_targets, name="head")(x)
        outputs = layers.Reshape((horizon, n_targets), name="forecast")(x)
    return keras.Model(inputs, outputs, name=spec.topology)


def _recurrent(keras, layer, *, name: str, stateful: bool, return_sequences: bool):
    """One recurrent layer from its spec, wrapped in Bidirectional when asked."""
    cell = getattr(keras.layers, _CELLS[layer.type])
    kw = dict(activation=layer.activation, dropout=layer.dropout,
              recurrent_dropout=layer.recurrent_dropout, return_sequences=return_sequences,
              stateful=stateful)
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


def reset_states(model) -> None:
    """Zero the state of every stateful layer (Keras 3 has no model.reset_states())."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
