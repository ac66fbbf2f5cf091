"""What a config builds, layer by layer: shapes, parameter counts with their formulas, and
whether each recurrent layer can run on the fused cuDNN kernel on a GPU."""

from __future__ import annotations

from pathlib import Path

from lstmcli.config import Config

# Parameters of one recurrent layer (bias included; GRU with Keras's reset_after=True).
_FORMULAS = {
    "LSTM": "4·units·(units + inputs + 1)",
    "GRU": "3·units·(units + inputs + 2)",
    "SimpleRNN": "units·(units + inputs + 1)",
}


def cudnn_status(layer) -> tuple[bool | None, str]:
    """(eligible, reason) under Keras 3's conditions for the fused kernel. None: no such
    kernel for this layer type."""
    kind = type(layer).__name__
    if kind not in ("LSTM", "GRU"):
        return None, "no cuDNN kernel for this layer type"
    cfg = layer.get_config()
    reasons = []
    if getattr(layer, "use_cudnn", "auto") is False:
        reasons.append("use_cudnn=False (stateful layouts pad in front with masked steps)")
    if cfg["activation"] != "tanh":
        reasons.append(f"activation is {cfg['activation']}, not tanh")
    if cfg["recurrent_activation"] != "sigmoid":
        reasons.append(f"recurrent_activation is {cfg['recurrent_activation']}, not sigmoid")
    if cfg["recurrent_dropout"]:
        reasons.append(f"recurrent_dropout is {cfg['recurrent_dropout']}, not 0")
    if cfg.get("unroll"):
        reasons.append("unroll is on (a seq2seq decoder step reads one time step: no gain)")
    if not cfg.get("use_bias", True):
        reasons.append("use_bias is off")
    if kind == "GRU" and not cfg.get("reset_after", True):
        reasons.append("reset_after is off")
    if reasons:
        return False, "; ".join(reasons) + " -> generic kernel (much slower on a GPU)"
    return True, "fused cuDNN kernel on a GPU"


def _row(layer) -> dict:
    params = int(layer.count_params())
    out = layer.output  # of the first call (a seq2seq decoder layer is called once per step)
    out = out[0] if isinstance(out, (list, tuple)) else out  # return_state: [output, *states]
    row = {"name": layer.name, "type": type(layer).__name__,
           "output_shape": list(out.shape), "params": params, "formula": "",
           "calls": len(layer._inbound_nodes)}
    inner = getattr(layer, "forward_layer", None) or layer
    kind = type(inner).__name__
    if kind in _FORMULAS:
        inputs = int(inner.cell.kernel.shape[0])
        copies = 2 if inner is not layer else 1
        twice = "2 × " if copies == 2 else ""
        row["type"] = f"Bidirectional({kind})" if copies == 2 else kind
        row["formula"] = f"{twice}{_fill(kind, inner.units, inputs)} = {params}"
        row["cudnn"], row["cudnn_reason"] = cudnn_status(inner)
    elif kind == "Dense":
        inputs = int(layer.kernel.shape[0])
        row["formula"] = (f"({inputs} + 1)·{layer.units} = {params}" if layer.use_bias
                          else f"{inputs}·{layer.units} = {params}")
        if not layer.trainable:
            row["formula"] += " (fixed)"
    return row


def _fill(kind: str, u: int, i: int) -> str:
    return {"LSTM": f"4·{u}·({u} + {i} + 1)", "GRU": f"3·{u}·({u} + {i} + 2)",
            "SimpleRNN": f"{u}·({u} + {i} + 1)"}[kind]


def describe(config: Config, *, features: list[str], targets: list[str]) -> dict:
    """Build the model the config describes and explain it."""
    from lstmcli.models.topology import build_model

    stateful = config.stateful
    w = config.window
    first = [features.index(t) if t in features else None for t in targets]
    model = build_model(config.model, look_back=w.look_back, n_features=len(features),
                        horizon=w.horizon, n_targets=len(targets), stateful=stateful,
                        batch_size=config.training.batch_size, first_input=first,
                        masking=config.window.padding)
    rows = [_row(layer) for layer in model.layers]
    shape = list(model.inputs[0].shape)
    if stateful:
        meaning = (f"[batch, time_steps, features] = {shape}: a fixed batch of "
                   f"{shape[0]} rows (series or segments side by side; training.batch_size), "
                   f"any number of steps (fed in chunks of {config.chunk_length}), "
                   f"{len(features)} features {features}")
    else:
        if w.look_back is None:
            meaning = (f"[batch, time_steps, features] = {shape}: each sample is one whole "
                       f"series of any length (variable-length sequences) of the "
                       f"{len(features)} features {features}")
        else:
            steps = "any number of" if shape[1] is None else f"{shape[1]} consecutive"
            meaning = (f"[batch, time_steps, features] = {shape}: each sample is {steps} "
                       f"steps (look_back {w.look_back}) of the {len(features)} features "
                       f"{features}")
    out = list(model.outputs[0].shape)
    return {
        "topology": config.model.topology, "mode": config.training.mode,
        "batch_size": config.training.batch_size,
        "chunk_length": config.chunk_length if stateful else None,
        "input_shape": shape, "input_meaning": meaning, "output_shape": out,
        "output_meaning": (f"{out}: the next step of the targets {targets} after every input "
                           "step" if out[1] is None else
                           f"{out}: {out[1]} step(s) ahead of the targets {targets}"),
        "layers": rows, "total_params": int(model.count_params()),
        "formulas": {k: v for k, v in _FORMULAS.items()
                     if any(k in r["type"] for r in rows)} | (
            {"Dense": "(inputs + 1)·units"} if any(r["type"] == "Dense" for r in rows) else {}),
    }


def describe_config(*, config: Path | None = None, run_dir: Path | None = None,
                    n_features: int | None = None) -> dict:
    """`lstmcli inspect`: the model a config (or a run directory) builds, explained."""
    from lstmcli.config import load_config
    from lstmcli.data.calendar import column_names
    from lstmcli.models.describe import describe

    if run_dir is not None:
        from lstmcli.runs.bundle import load_bundle

        bundle = load_bundle(run_dir)
        cfg = bundle.config
        features, targets = cfg.data.features, cfg.data.targets
        info = describe(cfg, features=features + column_names(cfg.data.calendar),
                        targets=targets)
        info["run_dir"] = str(run_dir)
        info["training"] = bundle.meta.training
        return info
    cfg = load_config(config)
    if cfg.data.features:
        features = list(cfg.data.features)
    else:
        features = [f"feature_{i}" for i in range(n_features or 1)]
    targets = list(cfg.data.targets) if cfg.data.targets else features
    info = describe(cfg, features=features + column_names(cfg.data.calendar), targets=targets)
    info["config"] = str(config)
    return info
