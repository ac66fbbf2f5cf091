"""RUN_DIR: the saved model and everything needed to use it again. No pickle.

    RUN_DIR/
      model.keras    Keras 3 native format, loaded with safe_mode=True
      bundle.json    format_version, package versions, resolved config, column names,
                     scaler parameters, frequency, last timestamp per series, training summary
      history.csv    one row per epoch
      config.yaml    the resolved config, to edit and reuse (a copy of bundle.json's)

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

from lstmcli.backend import import_keras
from lstmcli.config import Config, config_from_dict
from lstmcli.errors import BundleError, ConfigError
from lstmcli.files import replace_dir
from lstmcli.scaling import Scaler

FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
META_FILE = "bundle.json"
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.yaml"


@dataclass
class Bundle:
    path: Path
    model: object  # keras.Model
    meta: dict
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
                force: bool, staging: Path | None = None) -> Path:
    """Write the run into `staging` (default: a new temporary sibling of RUN_DIR), then
    rename it to RUN_DIR; a previous RUN_DIR is swapped out only after that succeeds."""
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
            + yaml.safe_dump(meta["config"], sort_keys=False))
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)  # the run is complete
        replace_dir(tmp, run_dir)
    finally:
        if staging is None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return run_dir


def read_meta(run_dir: str | Path) -> tuple[Config, dict]:
    """The config and bundle.json of a run, checked, without loading the model (or
    TensorFlow)."""
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
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{meta_path}: unreadable ({exc})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: not a run description (a JSON object was expected); "
                          "retrain with `lstmcli train`")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{meta_path}: format_version {version!r} is not supported by this "
                          f"lstmcli (expects {FORMAT_VERSION}); retrain with this version")
    try:
        return config_from_dict(meta["config"], source=f"{meta_path} config"), meta
    except (KeyError, ConfigError) as exc:
        raise BundleError(f"{meta_path}: invalid bundle ({exc})") from None


def load_bundle(run_dir: str | Path) -> Bundle:
    run_dir = Path(run_dir)
    config, meta = read_meta(run_dir)
    meta_path, model_path = run_dir / META_FILE, run_dir / MODEL_FILE
    try:
        scaler = Scaler.from_dict(meta["scaler"])
    except (KeyError, TypeError) as exc:
        raise BundleError(f"{meta_path}: invalid bundle ({exc})") from None
    if not zipfile.is_zipfile(model_path):
        raise BundleError(f"{model_path}: not a Keras model file (empty, truncated or not a "
                          "zip archive); retrain with `lstmcli train`")
    keras = import_keras()
    try:
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad bundle
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{model_path}: cannot load model ({first})") from None
    _check_inputs(model, config, model_path)
    return Bundle(path=run_dir, model=model, meta=meta, config=config, scaler=scaler)


def _check_inputs(model, config: Config, model_path: Path) -> None:
    """The model must read as many features as bundle.json says the data has."""
    want = len(config.data.features or []) + 2 * len(config.data.calendar)
    for tensor in model.inputs[:1]:
        got = tensor.shape[-1]
        if want and got is not None and got != want:
            raise BundleError(f"{model_path}: the model reads {got} feature(s) but bundle.json "
                              f"lists {want} ({config.data.features}, calendar "
                              f"{config.data.calendar}); the files come from different runs: "
                              "retrain with `lstmcli train`")
