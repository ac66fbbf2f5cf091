"""Config -> keras.Model. Builds the network only; training lives in train.py."""

from __future__ import annotations

from lstmcli.backend import import_keras
from lstmcli.config import ModelSpec

_CELLS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


def build_model(spec: ModelSpec, *, look_back: int, n_features: int, horizon: int,
                n_targets: int):
    """many_to_one: (batch, look_back, features) -> (batch, horizon, targets).

    Every recurrent layer that feeds another recurrent layer returns its whole sequence;
    the last returns only its final output. A Dense head emits horizon x targets values,
    reshaped to (horizon, targets).
    """
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=(look_back, n_features), name="window")
    x = inputs
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        cell = getattr(layers, _CELLS[layer.type])
        x = cell(layer.units, activation=layer.activation, dropout=layer.dropout,
                 recurrent_dropout=layer.recurrent_dropout, return_sequences=i < last,
                 name=f"{layer.type}_{i}")(x)
    for j, dense in enumerate(spec.dense):
        x = layers.Dense(dense.units, activation=dense.activation, name=f"dense_{j}")(x)
    x = layers.Dense(horizon * n_targets, name="head")(x)
    outputs = layers.Reshape((horizon, n_targets), name="forecast")(x)
    return keras.Model(inputs, outputs, name=spec.topology)
