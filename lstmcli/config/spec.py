"""Config: the whole YAML document, its four sections together (config/sections.py).

The combinations of keys that cannot work together fail here, with the reason and the fix,
as does a model whose weights alone would not fit in memory (`_weights` estimates them per
layer, so the message names the key to change). `lstmcli.config` re-exports it.
"""

from __future__ import annotations

from pydantic import model_validator

from lstmcli.config.sections import (
    MAX_SEQ2SEQ_HORIZON,
    MAX_WEIGHTS,
    DataSpec,
    LayerSpec,
    ModelSpec,
    TrainingSpec,
    WindowSpec,
    _Spec,
)


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
        if self.window.min_input is not None and (
                self.per_step or self.stateful or self.variable_length
                or self.window.min_input > self.window.look_back):
            raise ValueError(f"window.min_input: {self.window.min_input}; it lets a window "
                             "start before its series, so it must be at most window.look_back "
                             f"({self.window.look_back}), with stateless training and one "
                             "forecast per window (not many_to_many)")
        if self.window.history is not None and (self.stateful or self.variable_length):
            raise ValueError(f"window.history: {self.window.history}; it keeps the most recent "
                             "windows of each series, so it needs stateless training with a "
                             "window.look_back (stateful and variable-length training read "
                             "each whole series)")
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
        if self.model.damping < 1 and (
                self.model.topology not in ("many_to_one", "direct", "one_to_many")
                or self.stateful or self.variable_length):
            raise ValueError(f"model.damping: {self.model.damping} damps a forecast of "
                             "window.horizon steps emitted at once: topology many_to_one, "
                             "direct or one_to_many, stateless, with a window.look_back")
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
        if (self.training.ensemble > 1 and self.training.ensemble_validation == "first"
                and not self.training.refit):
            raise ValueError("training.ensemble_validation: first trains the members after the "
                             "first only in the refit: needs training.refit: true")
        reads = self.training.ensemble_inputs
        if reads is not None and (self.per_step or self.stateful or self.variable_length
                                  or self.model.topology == "seq2seq"
                                  or max(reads) > self.window.look_back):
            raise ValueError(f"training.ensemble_inputs: {reads}; each member reads the last "
                             "steps of the window, so each length must be at most "
                             f"window.look_back ({self.window.look_back}), with stateless "
                             "training and topology many_to_one, direct or one_to_many")
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

    def member_reads(self, k: int) -> int:
        """The steps ensemble member k reads: the last ones of the window."""
        reads = self.training.ensemble_inputs
        return self.window.look_back if not reads else reads[k % len(reads)]

    @property
    def pad(self) -> int:
        """Rows a window may reach before its series (window.min_input), filled with the
        series' first row."""
        w = self.window
        return 0 if w.min_input is None else w.look_back - w.min_input

    @property
    def input_rows(self) -> str:
        """The rows of its series a window needs, in words (for messages)."""
        w = self.window
        return (f"look_back {w.look_back}" if not self.pad else
                f"window.min_input {w.min_input} (of look_back {w.look_back})")

    @property
    def min_input(self) -> int:
        """The fewest rows of its own a series needs for a window."""
        return self.window.look_back - self.pad


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
