"""RUN_DIR: the saved model and everything needed to use it again. No pickle.

    RUN_DIR/
      model.keras    Keras 3 native format, loaded with safe_mode=True
      bundle.json    format_version, package versions, resolved config, column names,
                     scaler parameters, frequency, last timestamp per series, value ranges,
                     training summary
      history.csv    one row per epoch
      config.yaml    the resolved config, to edit and reuse (bundle.json's, with data.freq
                     the frequency the run used)

A run directory is written next to its final place and renamed into it, so a crash
leaves either the old directory or the new one, never half of one.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from lstmcli.config import Config
from lstmcli.data.scaling import Scaler
from lstmcli.errors import BundleError
from lstmcli.models.backend import import_keras
from lstmcli.runs.files import replace_dir
from lstmcli.runs.meta import FORMAT_VERSION, BundleMeta, check_meta, parse_meta

MODEL_FILE = "model.keras"
META_FILE = "bundle.json"
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.yaml"


@dataclass
class Bundle:
    path: Path
    model: object  # keras.Model
    meta: BundleMeta  # bundle.json, checked and typed
    config: Config
    scaler: Scaler


def check_writable(run_dir: Path, *, force: bool) -> None:
    """Fail before any work if RUN_DIR cannot be (re)placed."""
    if run_dir.exists() and not run_dir.is_dir():
        raise BundleError(f"{run_dir}: exists and is not a directory")
    if run_dir.exists() and not force:
        raise BundleError(f"{run_dir}: already exists; pass --force to replace it")


def _write_history(path: Path, history: list[dict]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)


def save_bundle(run_dir: str | Path, *, model, meta: dict, history: list[dict],
                force: bool, staging: Path | None = None, reuse: dict | None = None) -> Path:
    """Write the run into `staging` (default: a new temporary sibling of RUN_DIR), then
    rename it to RUN_DIR; a previous RUN_DIR is swapped out only after that succeeds.
    reuse: the config config.yaml shows (default: bundle.json's, meta["config"])."""
    run_dir = Path(run_dir)
    check_writable(run_dir, force=force)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    if staging is None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.tmp-", dir=run_dir.parent))
    else:
        tmp = staging
        tmp.mkdir(parents=True, exist_ok=True)
    try:
        model.save(tmp / MODEL_FILE)
        (tmp / META_FILE).write_text(json.dumps({"format_version": FORMAT_VERSION, **meta},
                                                indent=2) + "\n")
        _write_history(tmp / HISTORY_FILE, history)
        (tmp / CONFIG_FILE).write_text(
            "# The resolved config of this run: edit and reuse with --config.\n"
            + yaml.safe_dump(reuse or meta["config"], sort_keys=False))
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)  # the run is complete
        replace_dir(tmp, run_dir)
    finally:
        if staging is None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return run_dir


# ------------------------------------------------------------------ reading a run directory
#
# bundle.json is checked as a whole (meta.py) before anything in it is used.


def read_meta(run_dir: str | Path) -> tuple[Config, BundleMeta]:
    """The config and bundle.json of a run, checked, without loading the model (or
    TensorFlow): every part lstmcli reads (config, scaler, freq, last_ds, intervals, ranges,
    training) as a typed field of `BundleMeta`; the other keys kept as they are."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise BundleError(f"{run_dir}: is a file, not a run directory (give the directory "
                          "`lstmcli train --out` wrote)")
    if not run_dir.is_dir():
        raise BundleError(f"{run_dir}: run directory not found (make one with `lstmcli train`)")
    meta_path, model_path = run_dir / META_FILE, run_dir / MODEL_FILE
    for p in (meta_path, model_path):
        if not p.is_file():
            raise BundleError(f"{run_dir}: not a complete run directory ({p.name} is missing)")
    return check_meta(parse_meta(meta_path), meta_path)


def calibrated_steps(run_dir: str | Path) -> int | None:
    """The forecast steps a run's prediction intervals were calibrated for (None: none),
    for plots that mark them; reads bundle.json only."""
    found = read_meta(run_dir)[1].intervals
    return found.horizon if found is not None else None


def load_bundle(run_dir: str | Path) -> Bundle:
    run_dir = Path(run_dir)
    config, parsed = read_meta(run_dir)
    model_path = run_dir / MODEL_FILE
    scaler = Scaler.from_dict(parsed.scaler.model_dump())
    if not zipfile.is_zipfile(model_path):
        raise BundleError(f"{model_path}: not a Keras model file (empty, truncated or not a "
                          "zip archive); retrain with `lstmcli train`")
    keras = import_keras()
    from lstmcli.models.topology import custom_layers

    custom_layers()  # lstmcli's own layers, found by their registered names
    try:
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad bundle
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{model_path}: cannot load model ({first})") from None
    _check_inputs(model, config, model_path)
    return Bundle(path=run_dir, model=model, meta=parsed, config=config, scaler=scaler)


def _shape(tensors, what: str, model_path: Path) -> tuple:
    """The one (batch, time, columns) shape of a model's inputs or outputs."""
    if len(tensors) != 1 or len(tensors[0].shape) != 3:
        shapes = [tuple(t.shape) for t in tensors]
        raise BundleError(f"{model_path}: the model has {what} {shapes}, not one (batch, time, "
                          "columns) tensor as lstmcli builds; retrain with `lstmcli train`")
    return tuple(tensors[0].shape)


def _check_inputs(model, config: Config, model_path: Path) -> None:
    """The model must read windows of as many time steps and features as bundle.json says
    (and emit its targets), or the files come from different runs.

    Time steps: `window.look_back`, except for models with a free time axis (many_to_many,
    stateful, variable-length: None). The batch axis is not compared (stateful models fix it
    to training.batch_size)."""
    def mismatch(what: str) -> BundleError:
        return BundleError(f"{model_path}: {what}; the files come from different runs: "
                           "retrain with `lstmcli train`")

    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except Exception:  # noqa: BLE001 - a model that was never called on an input
        raise mismatch("the model has no defined inputs") from None
    _, steps, got = _shape(inputs, "inputs", model_path)
    data = config.data
    want = len(data.features or []) + 2 * len(data.calendar)
    if want and got is not None and got != want:
        raise mismatch(f"the model reads {got} feature(s) but bundle.json lists {want} "
                       f"({data.features}, calendar {data.calendar})")
    free = config.stateful or config.per_step
    look_back = None if free else config.window.look_back
    if steps != look_back:
        model_says = "any number of" if steps is None else str(steps)
        config_says = ("a free time axis (model.topology many_to_many or training.mode "
                       "stateful)" if look_back is None else f"window.look_back {look_back}")
        raise mismatch(f"the model reads windows of {model_says} time step(s) but bundle.json "
                       f"says {config_says}")
    _, out_steps, out_cols = _shape(outputs, "outputs", model_path)
    targets = len(data.targets or [])
    if targets and out_cols is not None and out_cols != targets:
        raise mismatch(f"the model predicts {out_cols} target(s) but bundle.json lists "
                       f"{targets} ({data.targets})")
    if not free and out_steps != config.window.horizon:
        raise mismatch(f"the model predicts {out_steps} step(s) but bundle.json says "
                       f"window.horizon {config.window.horizon}")
