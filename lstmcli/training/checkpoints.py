"""Per-epoch checkpoints of a training run, and resuming from the last one.

While `lstmcli train` runs, the run's work directory `.NAME.partial/` (beside RUN_DIR)
holds its checkpoints:

    .NAME.partial/checkpoints/epoch-000007/
        state.weights.h5   model weights and optimizer state (slots, iteration count)
        best.npz           the best epoch's weights so far: early stopping's restore point
        state.json         epochs done, history rows, early-stopping counters, fingerprint

Each checkpoint is written as a temporary directory and renamed into place, so a crash
leaves the previous checkpoint whole; older ones are then removed. When training ends,
the work directory (without its checkpoints) is renamed to RUN_DIR. File names here are
fixed: nothing read from state.json is ever used as a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmcli.config import Config
from lstmcli.errors import BundleError, ConfigError
from lstmcli.models.backend import import_keras

CHECKPOINTS = "checkpoints"
WEIGHTS = "state.weights.h5"
BEST = "best.npz"
STATE = "state.json"
BIG = 256 << 20  # bytes: larger data files are fingerprinted by size, mtime and both ends
_NAME = re.compile(r"^epoch-(\d{6})$")


def work_dir(run_dir: str | Path) -> Path:
    """Where a run is built before it is renamed to RUN_DIR."""
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.partial"


def latest(work: Path) -> Path | None:
    """The newest complete checkpoint in a work directory, or None."""
    root = work / CHECKPOINTS
    if not root.is_dir():
        return None
    done = [p for p in root.iterdir() if _NAME.match(p.name) and (p / STATE).is_file()]
    return max(done, key=lambda p: p.name) if done else None


def fingerprint(config: Config, data_path: str | Path) -> str:
    """What a checkpoint must match to be resumed: the resolved config (all but
    training.epochs, which --resume may raise) and the bytes of the data file."""
    doc = config.model_dump(mode="json")
    doc["training"].pop("epochs", None)
    h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
    size = os.path.getsize(data_path)
    with open(data_path, "rb") as fh:
        if size <= BIG:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:  # a large file: its size, time stamp and both ends, not every byte
            stat = os.stat(data_path)
            h.update(f"{size} {stat.st_mtime_ns}".encode())
            h.update(fh.read(16 << 20))
            fh.seek(size - (16 << 20))
            h.update(fh.read())
    return h.hexdigest()


@dataclass
class ResumeState:
    path: Path  # the checkpoint directory
    epochs_done: int
    history: list[dict]
    early_stopping: dict  # wait, best, best_epoch, stopped_epoch (0-based epochs)
    best_weights: list[np.ndarray] | None
    stopped: bool  # early stopping had already ended training

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS


def load(work: Path, expected: str) -> ResumeState:
    """The last checkpoint of an interrupted run; refuses one made for other data/config."""
    ckpt = latest(work)
    if ckpt is None:
        raise BundleError(f"{work}: no checkpoint to resume (train without --resume to start)")
    try:
        state = json.loads((ckpt / STATE).read_text())
        best = None
        if (ckpt / BEST).is_file():
            with np.load(ckpt / BEST, allow_pickle=False) as npz:
                best = [npz[f"w{i}"] for i in range(len(npz.files))]
        history, early = list(state["history"]), dict(state["early_stopping"])
        done, stopped, made_for = int(state["epochs_done"]), bool(state["stopped"]), \
            state["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{ckpt}: unreadable checkpoint ({exc}); pass --force to start over"
                          ) from None
    if made_for != expected:
        raise ConfigError(f"{ckpt}: this checkpoint was made with other data or another "
                          "config (only training.epochs may change on --resume); pass --force "
                          "to start over")
    return ResumeState(path=ckpt, epochs_done=done, history=history, early_stopping=early,
                       best_weights=best, stopped=stopped)


def clear(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


def callback(work: Path, print_: str, *, rows: list[dict], stopper=None, every: int = 1):
    """A Keras callback writing a checkpoint after every `every`-th epoch (and the last).

    Put it after early stopping in the callback list: it saves that epoch's counters.
    `rows` is the history list the progress callback appends to.
    """
    keras = import_keras()
    root = work / CHECKPOINTS

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            last = epoch + 1 == self.params.get("epochs") or self.model.stop_training
            if (epoch + 1) % every and not last:
                return
            root.mkdir(parents=True, exist_ok=True)
            name = f"epoch-{epoch + 1:06d}"
            tmp = root / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            self.model.save_weights(tmp / WEIGHTS)
            early = {}
            if stopper is not None:
                early = {"wait": stopper.wait, "best": _float(stopper.best),
                         "best_epoch": stopper.best_epoch,
                         "stopped_epoch": stopper.stopped_epoch}
                if stopper.best_weights is not None:
                    previous = latest(work)
                    if stopper.best_epoch != epoch and previous and (previous / BEST).is_file():
                        _link_or_copy(previous / BEST, tmp / BEST)  # unchanged
                    else:
                        np.savez(tmp / BEST, **{f"w{i}": w
                                                for i, w in enumerate(stopper.best_weights)})
            stopped = bool(stopper is not None and stopper.stopped_epoch)  # early stopping
            state = {"epochs_done": epoch + 1, "history": rows, "early_stopping": early,
                     "stopped": stopped, "fingerprint": print_}
            (tmp / STATE).write_text(json.dumps(state, indent=1, default=_float))
            os.rename(tmp, root / name)
            for old in root.iterdir():
                if old.name != name:
                    shutil.rmtree(old, ignore_errors=True)

    return Checkpoint()


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _float(value):
    with contextlib.suppress(TypeError, ValueError):
        return float(value)
    return None
