"""The Python API behind the CLI: one function per command.

    from lstmcli import api
    from lstmcli.config import load_config
    summary = api.train("sample_data/airline_passengers.csv",
                        load_config("configs/quickstart.yaml"), out="runs/air")
    forecast, _ = api.rollout("sample_data/airline_passengers.csv", "runs/air", horizon=12)

Data flows one way: CSV -> Frame -> scaled arrays -> windows -> model -> run directory,
and run directory + CSV -> predictions in original units with their timestamps.
TensorFlow is imported only by the functions that need it.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import Config, DataSpec
from lstmcli.data import INDEX_TIME_NAME, Frame, future_index, read_series
from lstmcli.errors import ConfigError, DataError, ModelError, UsageError
from lstmcli.files import write_atomic
from lstmcli.layouts import (  # noqa: F401 - also the public names of the Python API
    first_inputs,
    sequence_layout,
    split_windows,
    stateful_layout,
)
from lstmcli.layouts import resolved as _resolved
from lstmcli.layouts import reusable as _reusable
from lstmcli.layouts import usable_series as _usable_series
from lstmcli.scaling import Scaler
from lstmcli.windows import input_windows, make_windows, window_starts

# ---------------------------------------------------------------------------- window


@dataclass
class WindowPart:
    series: object  # data.Series
    X: np.ndarray  # (samples, look_back, features) strided view, raw units
    y: np.ndarray  # (samples, horizon, targets) strided view
    starts: np.ndarray  # first input row of each sample


@dataclass
class WindowSet:
    """The windows of every series, kept as per-series views (nothing copied)."""

    frame: Frame
    parts: list[WindowPart]
    look_back: int
    seconds: dict
    config: Config | None = None  # the config the windows were cut by

    @property
    def n(self) -> int:
        return sum(len(p.X) for p in self.parts)

    @property
    def x_shape(self) -> list[int]:
        return [self.n, *self.parts[0].X.shape[1:]]

    @property
    def y_shape(self) -> list[int]:
        return [self.n, *self.parts[0].y.shape[1:]]

    def first(self, k: int) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
        """Copies of the first k windows: X, y, series ids, time of each first target."""
        xs, ys, ids, ds = [], [], [], []
        for p in self.parts:
            take = min(k - len(ids), len(p.X))
            xs.append(p.X[:take]), ys.append(p.y[:take])
            ids += [p.series.id] * take
            ds += [_text(v) for v in p.series.ds[p.starts[:take] + self.look_back]]
            if len(ids) == k:
                break
        return np.concatenate(xs), np.concatenate(ys), ids, ds


def _text(stamp) -> str:
    """A time stamp as text: the date alone when it is at midnight."""
    if isinstance(stamp, pd.Timestamp) and stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return str(stamp)


def make_window_set(data_path: str | Path, config: Config | None, *,
                    horizon: int | None = None, options: dict | None = None) -> WindowSet:
    """The windows of every series, as `create_dataset` would cut them (raw units).

    config None: the config `train` would pick from the data (defaults.picked); horizon and
    options (see `train`) override the config's window.horizon and data keys."""
    t0 = time.perf_counter()
    notes = []
    if config is None:
        from lstmcli.defaults import picked

        config, frame, _ = picked(data_path, horizon=horizon, spec=options_spec(options))
        notes.append(f"no --config: the windows of the config `lstmcli train` picks from this "
                     f"data (look_back {config.window.look_back}, horizon "
                     f"{config.window.horizon}); set --horizon, or give --config")
    else:
        config = with_options(config, options)
        if horizon is not None and horizon != config.window.horizon:
            config = _overridden(config, "window", "horizon", horizon, "--horizon")
        frame = None
    if config.variable_length:
        raise ConfigError("window.look_back is null (variable-length sequences): each series "
                          "is one whole sequence, so there are no fixed windows to cut; "
                          "`lstmcli inspect` shows the model's input shape")
    if frame is None:
        frame = read_series(data_path, config.data)
    if notes:
        frame = replace(frame, notes=frame.notes + notes)
    t1 = time.perf_counter()
    w = config.window
    parts, short = [], []
    for s in frame.series:
        X, y = make_windows(s.values, look_back=w.look_back, horizon=w.horizon, stride=w.stride,
                            feature_idx=frame.feature_idx, target_idx=frame.target_idx)
        starts = window_starts(len(s), look_back=w.look_back, horizon=w.horizon,
                               stride=w.stride)
        if len(X):
            parts.append(WindowPart(series=s, X=X, y=y, starts=starts))
        else:
            short.append(s)
    if parts and short:
        named = ", ".join(f"'{s.id}' ({len(s)} rows)" for s in short[:10])
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        frame = replace(frame, notes=frame.notes + [
            f"{len(short)} series skipped, shorter than look_back {w.look_back} + horizon "
            f"{w.horizon} = {w.look_back + w.horizon} rows: {named}{more}"])
    if not parts:
        shortest = min(len(s) for s in frame.series)
        raise DataError(f"{frame.path}: no window fits: the longest series has "
                        f"{max(len(s) for s in frame.series)} rows (shortest {shortest}),"
                        f" look_back {w.look_back} + horizon {w.horizon} needs at least "
                        f"{w.look_back + w.horizon}")
    seconds = {"read": round(t1 - t0, 4), "window": round(time.perf_counter() - t1, 4)}
    return WindowSet(frame=frame, parts=parts, look_back=w.look_back, seconds=seconds,
                     config=config)


def save_window_set(ws: WindowSet, out: str | Path, config: Config) -> Path:
    """Write X, y and metadata to .npz. This materialises every window (float32)."""
    out = Path(out)
    series = np.concatenate([np.full(len(p.X), p.series.id) for p in ws.parts])
    ds = np.concatenate([np.asarray(p.series.ds[p.starts + ws.look_back].astype(str))
                         for p in ws.parts])
    arrays = dict(X=np.concatenate([p.X for p in ws.parts]).astype("float32"),
                  y=np.concatenate([p.y for p in ws.parts]).astype("float32"),
                  series=series.astype(str), ds=ds.astype(str),
                  features=np.array(ws.frame.features), targets=np.array(ws.frame.targets),
                  look_back=config.window.look_back, horizon=config.window.horizon,
                  stride=config.window.stride)
    with write_atomic(out, binary=True) as fh:
        np.savez(fh, **arrays)
    return out


# ----------------------------------------------------------------------------- train
# (the training data layouts live in layouts.py; their names stay importable from here)


def train(data_path: str | Path, config: Config | None, *, out: str | Path,
          epochs: int | None = None,
          seed: int | None = None, force: bool = False, resume: bool = False,
          wait: bool = False, distribute: str | None = None, horizon: int | None = None,
          options: dict | None = None, on_epoch=None, on_wait=None, on_status=None,
          on_note=None) -> dict:
    """Train a model on a CSV and write the run directory `out`. Returns a summary.

    options: data keys set on the command line ({"freq": "D", "series": "store"}, see
    DATA_OPTIONS), over the config's or the picked config's; the run's config.yaml keeps them.

    on_status(text) is told each stage as it starts ("reading data.csv…", "building the
    model…", "compiling (first epoch)…"); on_note(text) gets the notes known before
    training (the picked config, data notes) as training starts. Both notes and more are
    in the summary too.

    The run is built in its work directory (checkpoints/ each epoch) and renamed to `out`
    at the end, under an advisory lock on `out`. resume: continue the interrupted run
    from its last checkpoint. SIGINT/SIGTERM stop after the current step (`Interrupted`).
    distribute overrides training.distribute; under multi_worker every worker runs this
    and only the chief writes `out`.
    """
    from lstmcli.checkpoints import work_dir
    from lstmcli.distribute import chief_in, tf_config
    from lstmcli.locks import hold
    from lstmcli.outputs import real

    shown, out = Path(out), real(out)  # through a symlink: the target is replaced
    frame, auto_notes = None, []
    status = on_status or (lambda text: None)
    if config is None:  # picked from the data (which is then read only once)
        from lstmcli.defaults import picked

        status(f"reading {Path(data_path).name}…")
        config, frame, auto_notes = picked(data_path, horizon=horizon,
                                           spec=options_spec(options))
    else:
        config = with_options(config, options)
        if horizon is not None and horizon != config.window.horizon:
            config = _overridden(config, "window", "horizon", horizon, "--horizon")
    if distribute is not None:
        config = _overridden(config, "training", "distribute", distribute, "--distribute")
    cluster = tf_config() if config.training.distribute == "multi_worker" else None
    if resume and cluster:
        raise UsageError("--resume: multi_worker training resumes by itself (Keras "
                         "BackupAndRestore per worker): rerun the same command on every worker")
    common = dict(out=out, epochs=epochs, seed=seed, force=force, resume=resume,
                  on_epoch=on_epoch, work=work_dir(out), cluster=cluster, frame=frame,
                  picked=auto_notes, status=status, on_note=on_note)
    if not chief_in(cluster):  # trains alongside the chief; writes nothing of the run
        with _removed_after(store_dir(out, config)):
            return _train_locked(data_path, config, writer=False, **common)
    with hold(out, wait=wait, on_wait=on_wait):
        check_writable_run(out, force=force, resume=resume)
        with _removed_after(store_dir(out, config)):
            summary = _train_locked(data_path, config, writer=True, **common)
    return {**summary, "run_dir": str(shown)}


def store_dir(out: Path, config: Config) -> Path | None:
    """Where a data.stream run keeps its series store while it trains: `.RUN.store/`
    beside RUN_DIR (on the file system the user chose for the run), removed after."""
    return out.parent / f".{out.name}.store" if config.data.stream else None


@contextlib.contextmanager
def _removed_after(directory: Path | None):
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)  # left by a killed run
    try:
        yield
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def read_data(data_path: str | Path, spec: DataSpec, *, fallback_freq=None) -> Frame:
    """read_series for predict, rollout and evaluate: with data.stream, the store is kept
    in a temporary directory, removed when the frame's store is let go (or at exit)."""
    if not spec.stream:
        return read_series(data_path, spec, fallback_freq=fallback_freq)
    directory = Path(tempfile.mkdtemp(prefix="lstmcli-store-"))
    try:
        frame = read_series(data_path, spec, fallback_freq=fallback_freq, store_dir=directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    weakref.finalize(frame.store, shutil.rmtree, directory, True)
    return frame


# Command-line options of train, backtest and window that set a key of the data section.
DATA_OPTIONS = {"targets": "--target", "time": "--time-col", "series": "--id-col",
                "freq": "--freq", "missing": "--missing"}


def with_options(config: Config, options: dict | None) -> Config:
    """The config with the data keys given as command-line options (None: not given)."""
    for key, value in (options or {}).items():
        if value is not None and value != getattr(config.data, key):
            config = _overridden(config, "data", key, value, DATA_OPTIONS[key])
    return config


def options_spec(options: dict | None) -> DataSpec:
    """The data section the command-line options alone set (the rest as by default): how
    the data is read when no config is given."""
    from pydantic import ValidationError

    given = {k: v for k, v in (options or {}).items() if v is not None}
    try:
        return DataSpec.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = DATA_OPTIONS.get(str(error["loc"][0]), "options") if error["loc"] else "options"
        raise UsageError(f"{option}: {error['msg']}. Received: {error.get('input')!r}") from None


def _overridden(config: Config, section: str, key: str, value, option: str) -> Config:
    """The config with one key set from a command-line option, validated again."""
    from lstmcli.config import config_from_dict

    doc = config.model_dump(mode="json")
    doc[section][key] = value
    return config_from_dict(doc, source=option)


def check_writable_run(out: Path, *, force: bool, resume: bool) -> None:
    """Fail before any work: RUN_DIR exists without --force, or an interrupted run's
    checkpoints would be thrown away (or are missing) for --resume."""
    from lstmcli import checkpoints
    from lstmcli.bundle import META_FILE, check_writable
    from lstmcli.errors import BundleError

    work = checkpoints.work_dir(out)
    if resume and checkpoints.latest(work) is None:
        if (out / META_FILE).is_file():  # a run's directory, not just any one
            raise BundleError(f"{out}: nothing to resume: it is a finished run, and no "
                              f"interrupted training left a checkpoint in {work}; train "
                              "without --resume (with --force to replace the run)")
        raise BundleError(f"{out}: no interrupted training to resume (no checkpoint in "
                          f"{work}); train without --resume")
    check_writable(out, force=force)
    if not resume and work.exists():
        if checkpoints.latest(work) is not None and not force:
            raise BundleError(f"{out}: an interrupted training left checkpoints in {work}; "
                              "pass --resume to continue it, or --force to start over")
        checkpoints.clear(work)  # nothing resumable in it, or --force


def _train_locked(data_path, config: Config, *, out: Path, epochs, seed, force, resume,
                  on_epoch, work: Path, cluster: dict | None, writer: bool,
                  frame: Frame | None, picked: list[str], status, on_note) -> dict:
    from lstmcli import checkpoints, distribute
    from lstmcli.backend import versions
    from lstmcli.bundle import save_bundle
    from lstmcli.errors import Interrupted
    from lstmcli.signals import graceful_stop
    from lstmcli.topology import build_model, copy_weights
    from lstmcli.train import Persistence, fit, seed_everything

    # MultiWorkerMirroredStrategy must exist before TensorFlow runs anything else
    strategy = distribute.strategy_for(config.training.distribute)

    overrides = {k: v for k, v in (("seed", seed), ("epochs", epochs)) if v is not None}
    if overrides:
        config = config.model_copy(update={"training": config.training.model_copy(
            update=overrides)})
    t0 = time.perf_counter()
    status("loading TensorFlow…")
    seed_everything(config.training.seed)
    if frame is None:
        status(f"reading {Path(data_path).name}…")
        frame = read_series(data_path, config.data, store_dir=store_dir(out, config))
    config = _resolved(config, frame)
    print_ = checkpoints.fingerprint(config, data_path)
    state = checkpoints.load(work, print_) if resume else None
    stateful = config.training.mode == "stateful"
    dist = distribute.describe(strategy)
    if strategy is not None:
        replicas, per = dist["replicas"], config.training.batch_size
        scaler, data, notes = split_windows(frame, config, batch_size=per * replicas)
        notes.append(f"distribute: {dist['kind']}, {dist['num_workers']} worker(s), {replicas} "
                     f"replica(s) in sync: global batch {per * replicas} = training.batch_size "
                     f"{per} per replica x {replicas}" + ("" if writer else
                                                          f"; {distribute.task_name(cluster)} "
                                                          "is not the chief: it writes nothing"))
    else:
        layout = (stateful_layout if stateful else sequence_layout if config.variable_length
                  else split_windows)
        scaler, data, notes = layout(frame, config)
    notes = picked + notes
    if state is not None:
        notes.append(f"resuming after epoch {state.epochs_done} from {state.path}")
    every = config.training.checkpoint_every if writer else 0
    if cluster is not None:  # each worker keeps its own backup; a restarted one resumes
        from lstmcli.backend import import_keras

        every = 0
        backup = out.parent / f".{out.name}.backup-{distribute.task_name(cluster)}"
        data.callbacks.append(import_keras().callbacks.BackupAndRestore(str(backup)))

    w = config.window
    shape = dict(look_back=w.look_back, n_features=len(frame.features), horizon=w.horizon,
                 n_targets=len(frame.targets), stateful=stateful,
                 batch_size=config.training.batch_size, first_input=first_inputs(frame),
                 masking=config.window.padding)
    status("building the model…")
    with distribute.scope(strategy):  # variables live where the strategy wants them
        model = build_model(config.model, **shape)
        fitted = model
        if config.model.topology == "seq2seq" and config.model.teacher_forcing:
            fitted = build_model(config.model, **shape, teacher_forcing=True)  # training
    jit = config.training.jit_compile
    if jit is None:  # XLA compiles once per batch shape: not for varying lengths; and it
        # cannot compile the all-reduce between CPU workers
        jit = (config.model.topology != "seq2seq" and not config.variable_length
               and cluster is None)
    members = config.training.ensemble
    if members > 1:
        every = 0  # the members are trained one after another; a restart trains them anew
        notes.append(f"ensemble: {members} models (seeds {config.training.seed}.."
                     f"{config.training.seed + members - 1}); forecasts are their median")
    if on_note is not None:  # what is known before training is said before it
        for note in frame.notes + notes:
            on_note(note)
    with graceful_stop() as stop:
        persist = Persistence(work=work, fingerprint=print_, every=every, resume=state,
                              stop=stop)
        try:
            with distribute.scope(strategy):
                trained, results = [], []
                for k in range(members):
                    if k:  # the next member: its own seed, its own initial weights
                        seed_everything(config.training.seed + k)
                        model = fitted = build_model(config.model, **shape)
                    status(f"model {k + 1} of {members}: compiling (first epoch)…"
                           if members > 1 else "compiling (first epoch)…")
                    results.append(fit(fitted, data, config.training, on_epoch=on_epoch,
                                       jit_compile=jit, persist=persist, strategy=strategy))
                    trained.append(model)
                result = _ensemble_result(results)
        except Interrupted as exc:
            kept = checkpoints.latest(work)
            hint = (f"; checkpoint after epoch {int(kept.name.split('-')[1])} kept in {work}; "
                    "continue with the same command and --resume") if kept else \
                "; no checkpoint was written yet"
            raise Interrupted(f"{out}: {exc}{hint}", exc.exit_code - 128) from None
    if fitted is not model:
        copy_weights(fitted, model)  # the saved model always feeds its own predictions back
    if members > 1:
        from lstmcli.topology import median_of

        model = median_of(trained)
    if writer:
        status("calibrating prediction intervals…")
    intervals = _calibrate(model, frame, scaler, config, notes) if writer else None
    refit = None
    if config.training.refit:  # the tail held out above now trains too
        model, refit = _refit(frame, config, results, shape, scaler, jit=jit, status=status,
                              on_epoch=on_epoch, out=out, work=work)
        notes.append(f"refit on every row (the validation tail too) for the best epoch count "
                     f"({', '.join(map(str, refit['epochs']))}) in {refit['seconds']:.0f} s; "
                     "the intervals were calibrated before, on the held-out tail")

    if result.history[0]["epoch"] > 1:
        notes.append(f"resumed from this worker's backup after epoch "
                     f"{result.history[0]['epoch'] - 1} (history.csv holds the epochs run since)")
    training = {"mode": config.training.mode, "epochs_run": result.history[-1]["epoch"],
                "best_epoch": result.best_epoch, "monitor": result.monitor,
                "best_loss": result.best_loss, "stopped_early": result.stopped_early,
                "seconds": result.seconds, "train_samples": int(data.n_train),
                "val_samples": int(data.n_val), "resumed_after": (
                    state.epochs_done if state else None),
                "params": int(model.count_params()), "distribute": dist, "refit": refit}
    if writer and intervals is None:  # say why, here and to predict / rollout later
        why = no_intervals(config, {"training": {"no_intervals": _uncalibrated(frame)}})
        if why:
            training["no_intervals"] = why
            notes.append(f"no prediction intervals: {why}")
    meta = {
        "versions": versions(),
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "data_file": str(data_path),
        "config": config.model_dump(mode="json"),
        "columns": frame.columns,
        "freq": frame.freq,
        "last_ds": {s.id: _stamp(s.ds[-1]) for s in frame.series},
        "scaler": scaler.to_dict(),
        "training": training,
        "intervals": intervals,
        "ranges": _training_ranges(frame, config) if writer else None,
    }
    if writer:
        status(f"writing {out.name}…")
        reuse = _reusable(config, frame).model_dump(mode="json")
        save_bundle(out, model=model, meta=meta, history=result.history, force=force,
                    staging=work, reuse=reuse)
    return {"command": "train", "run_dir": str(out) if writer else None,
            "data": str(data_path),
            "series": len(frame.series), "features": frame.features, "targets": frame.targets,
            "x_shape": data.x_shape, "y_shape": data.y_shape,
            "training": training, "notes": frame.notes + notes,
            "seconds": round(time.perf_counter() - t0, 3)}


def _refit(frame: Frame, config: Config, results: list, shape: dict, scaler: Scaler, *,
           jit, status, on_epoch, out: Path, work: Path):
    """training.refit: each member trained again from its own seed on every row of every
    series (no validation tail, no early stopping) for its best epoch count, with the same
    scaler (so the intervals calibrated in its units hold). Returns (model, summary)."""
    from lstmcli.config import EarlyStoppingSpec
    from lstmcli.errors import Interrupted
    from lstmcli.signals import graceful_stop
    from lstmcli.topology import build_model, median_of
    from lstmcli.train import Persistence, fit, seed_everything

    full = config.model_copy(update={"training": config.training.model_copy(update={
        "validation": 0.0, "early_stopping": EarlyStoppingSpec(enabled=False)})})
    _, data, _ = split_windows(frame, full, scaler=scaler)
    members, epochs, seconds = [], [], 0.0
    with graceful_stop() as stop:
        for k, result in enumerate(results):
            seed_everything(config.training.seed + k)
            model = build_model(config.model, **shape)
            status(f"refit {k + 1} of {len(results)} on every row…" if len(results) > 1
                   else "refit on every row…")
            try:
                done = fit(model, data, full.training, epochs=result.best_epoch,
                           on_epoch=on_epoch, jit_compile=jit,
                           persist=Persistence(work=work, fingerprint="", every=0, stop=stop))
            except Interrupted as exc:
                raise Interrupted(f"{out}: {exc} (refit; nothing was written)",
                                  exc.exit_code - 128) from None
            members.append(model)
            epochs.append(result.best_epoch)
            seconds += done.seconds
    model = median_of(members) if len(members) > 1 else members[0]
    return model, {"epochs": epochs, "seconds": round(seconds, 3)}


def _ensemble_result(results: list):
    """One TrainResult for K members: the histories one after another (with a `member`
    column when K > 1), times added, the mean of the members' best losses."""
    if len(results) == 1:
        return results[0]
    from dataclasses import replace

    history = [{"member": k, **row} for k, r in enumerate(results) for row in r.history]
    return replace(results[-1], history=history,
                   best_loss=float(np.mean([r.best_loss for r in results])),
                   seconds=round(sum(r.seconds for r in results), 3))


def _uncalibrated(frame: Frame) -> str:
    """Why `intervals.calibrate` found nothing to calibrate on."""
    unfed = [t for t in frame.targets if t not in frame.features]
    if unfed:
        return (f"the targets {unfed} are not inputs, so the calibration forecasts over the "
                "validation tails cannot feed them back")
    return "no series has a validation tail longer than window.look_back"


def _training_ranges(frame, config: Config) -> dict:
    """bundle.json's `ranges` (datacheck.py): each column's smallest and largest value in
    the rows training read; per series too with data.scale_per_series."""
    from lstmcli.datacheck import ranges_of

    derived = getattr(frame, "derived", [])
    columns = [c for c in frame.columns if c not in derived]
    keep = [frame.columns.index(c) for c in columns]
    seen = {s.id: _min_max(s.values[:, keep]) for s in frame.series if len(s)}
    return ranges_of(columns, seen, per_series=config.data.scale_per_series)


def _min_max(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rows.min(axis=0), rows.max(axis=0)


def _calibrate(model, frame: Frame, scaler: Scaler, config: Config, notes: list[str]
               ) -> dict | None:
    """Prediction-interval offsets from the validation tails (see intervals.py)."""
    from lstmcli.intervals import calibrate

    t = config.training
    if (not t.interval_steps or t.validation == 0 or t.mode == "stateful"
            or config.variable_length):
        return None
    w = config.window
    used = [(s.values, n, scaler.of(s.id))
            for s, n in _usable_series(frame, config, w.look_back + w.horizon)[0]]
    out = calibrate(model, used, feature_idx=frame.feature_idx,
                    target_idx=frame.target_idx, feedback=feedback_order(frame),
                    look_back=w.look_back,
                    per_step=config.model.topology == "many_to_many",
                    horizon=t.interval_steps)
    if out is not None:
        notes.append(f"prediction intervals (80%, 95%) calibrated on rollouts from "
                     f"{out['origins']} validation origin(s), {out['horizon']} step(s) ahead")
    return out


def describe_config(*, config: Path | None = None, run_dir: Path | None = None,
                    n_features: int | None = None) -> dict:
    """`lstmcli inspect`: the model a config (or a run directory) builds, explained."""
    from lstmcli.calendar import column_names
    from lstmcli.config import load_config
    from lstmcli.describe import describe

    if run_dir is not None:
        from lstmcli.bundle import load_bundle

        bundle = load_bundle(run_dir)
        cfg = bundle.config
        features, targets = cfg.data.features, cfg.data.targets
        info = describe(cfg, features=features + column_names(cfg.data.calendar),
                        targets=targets)
        info["run_dir"] = str(run_dir)
        info["training"] = bundle.meta.get("training", {})
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


def _stamp(value) -> str | int:
    return int(value) if isinstance(value, (int, np.integer)) else pd.Timestamp(value).isoformat()


# ------------------------------------------------------------------ predict / rollout


def _load(run_dir: str | Path, data_path: str | Path, *, tail: bool = False,
          shown: str | Path | None = None):
    """The run, the data, and what comparing the data with the run found (`_Checked`).

    tail: only the last look_back rows of each series are the forecast's inputs (their
    value ranges are checked; else all rows). shown: the file to name in messages (the
    user's, when data_path is a temporary copy)."""
    from lstmcli.bundle import load_bundle
    from lstmcli.datacheck import check_columns, inferred_freq

    bundle = load_bundle(run_dir)
    spec: DataSpec = bundle.config.data
    name = shown or data_path
    check_columns(data_path, bundle.config, run_dir, shown=name)
    frame = read_data(data_path, spec, fallback_freq=bundle.meta.get("freq"))
    found = frame.freq if spec.freq is None else inferred_freq([s.ds for s in frame.series])
    if frame.columns != bundle.scaler.columns:
        raise DataError(f"{name}: columns {frame.columns} do not match the model's "
                        f"{bundle.scaler.columns}")
    lb = bundle.config.window.look_back
    if tail and lb and not _runs_whole_history(bundle):
        rows = [(s.id, s.values[-lb:]) for s in frame.series]
        what = f"the last {lb} rows (the forecast's inputs)"
    else:  # (a store on disk: each series' range, one series mapped at a time)
        rows = [(s.id, _min_max(s.values) if frame.store.on_disk else s.values)
                for s in frame.series]
        what = "the rows read"
    checked = _check_data(bundle, frame, name, run_dir, found, rows, what)
    return bundle, frame, checked


@dataclass
class _Checked:
    """What comparing a file with the run found (datacheck.py): notes."""

    notes: list[str]

    def floor(self, frame, s) -> np.ndarray:
        """`_floor` of a series, from all its rows."""
        return _floor(s.values[:, frame.target_idx])


def _check_data(bundle, frame, name, run_dir, found_freq, seen: list, what: str) -> _Checked:
    """Compare the data with the run (datacheck.py): its frequency (an error), series a
    per-series scaled run never saw (a note; they get scalers of their own rows), values
    far outside the training range in the rows `seen` ((series id, rows or (min, max))
    pairs; a note), and why there are no prediction intervals when there are none."""
    from lstmcli import datacheck

    datacheck.check_freq(found_freq, bundle.meta.get("freq"), path=name, run_dir=run_dir)
    notes = []
    unseen = datacheck.unseen_series([s.id for s in frame.series], bundle.scaler)
    if unseen:
        new = set(unseen)
        bundle.scaler = datacheck.with_own_scalers(
            bundle.scaler, {s.id: s.values for s in frame.series if s.id in new})
        notes.append(datacheck.unseen_note(unseen, name))
    notes += datacheck.range_notes(bundle.meta.get("ranges"), frame.columns, seen,
                                   series_label="series" if frame.is_long else None, what=what)
    reason = no_intervals(bundle.config, bundle.meta)
    if reason:
        notes.append(f"no prediction intervals: {reason}")
    return _Checked(notes=notes)


def no_intervals(config: Config, meta: dict | None = None) -> str | None:
    """Why a run has no prediction intervals, in words (None: it has them, or
    training.interval_steps is 0: none were asked for)."""
    if meta is not None and meta.get("intervals"):
        return None
    t = config.training
    if not t.interval_steps:
        return None
    if t.mode == "stateful":
        return ("stateful runs are not calibrated: intervals come from forecasts started at "
                "every origin of the validation tails, and a stateful model would have to "
                "warm its state up again for each origin (not done yet)")
    if config.variable_length:
        return ("variable-length runs (window.look_back: null) are not calibrated: each series "
                "is one sequence, so the validation tails give no forecast origins")
    if t.validation == 0:
        return "training.validation is 0: there was no validation tail to calibrate them on"
    recorded = (meta or {}).get("training", {}).get("no_intervals")
    return recorded or ("the validation tails gave nothing to calibrate on (targets that "
                        "are not inputs, or tails no longer than window.look_back)")


def _time_name(frame: Frame) -> str:
    return frame.time_col or INDEX_TIME_NAME


def _scaled_inputs(frame: Frame, scaler: Scaler, look_back: int, *, tail: bool = False
                   ) -> tuple[list, list[str]]:
    """(series, scaled feature rows as float32) for every series with at least look_back
    rows; tail: only its last look_back rows (a rollout's inputs)."""
    used, notes = [], []
    for s in frame.series:
        if len(s) < look_back:
            notes.append(f"series '{s.id}' skipped: {len(s)} rows < look_back {look_back}")
            continue
        rows = s.values[-look_back:] if tail else s.values
        used.append((s, scaler.of(s.id).transform(rows)[:, frame.feature_idx]
                     .astype("float32")))
    if not used:
        raise DataError(f"{frame.path}: every series is shorter than look_back {look_back}")
    return used, notes


def _last_windows(used: list, look_back: int) -> np.ndarray:
    """(series, look_back, features): the final window of each series."""
    return np.stack([rows[-look_back:] for _, rows in used])


def _batched(views: list[np.ndarray], size: int):
    """Yield batches of about `size` windows from per-series window views, copying only
    one batch at a time."""
    pending, count = [], 0
    for v in views:
        for start in range(0, len(v), size):
            part = v[start:start + size]
            pending.append(part)
            count += len(part)
            if count >= size:
                yield np.concatenate(pending)
                pending, count = [], 0
    if pending:
        yield np.concatenate(pending)


def _future(frame: Frame, s, steps: int) -> pd.Index:
    if frame.freq is None:
        raise DataError(f"{frame.path}: cannot stamp future rows: the time frequency could not "
                        "be inferred; set data.freq (e.g. D, h, MS) in the config")
    return future_index(s.ds[-1], frame.freq, steps)


def _twin_and_rows(bundle, frame: Frame):
    """A twin of the model with one stateful batch row per series, and each series' scaled
    rows (cut a block at a time): what reading whole histories needs."""
    from lstmcli.stateful import ScaledSeries, inference_twin

    twin = inference_twin(bundle.config, n_rows=len(frame.series),
                          n_features=len(frame.features), n_targets=len(frame.targets),
                          weights=bundle.model.get_weights())
    return twin, ScaledSeries(frame.series, bundle.scaler)


def feedback_order(frame: Frame) -> list[int]:
    """For each feature, the target whose prediction feeds it back, or -1 for a calendar
    feature (computed for the future time stamp instead)."""
    return [frame.targets.index(f) if f in frame.targets else -1 for f in frame.features]


def _future_features(frame: Frame, used: list, scaler: Scaler, steps: int,
                     known: dict[str, pd.DataFrame] | None = None) -> np.ndarray | None:
    """(series, steps, features): the scaled known future values of each forecast step -
    calendar features, and the covariates in `known` (per series, indexed by time stamp,
    covering at least the horizon) - with zeros in the fed-back columns; None if none."""
    covariates = [c for c in frame.features if c not in frame.targets + frame.derived]
    if not frame.derived and not (known and covariates):
        return None
    from lstmcli import calendar

    names = [c.rsplit("_", 1)[0] for c in frame.derived[::2]]
    k = [frame.columns.index(c) for c in frame.derived]
    out = []
    for s in used:
        rows = np.zeros((steps, len(frame.columns)))
        stamps = _future(frame, s, steps)
        if names:
            rows[:, k] = calendar.features(stamps, names)
        if known and covariates:
            for c in covariates:  # known-ahead columns hold the next step's value
                lead = 1 if c in frame.ahead else 0
                given = np.zeros(steps)  # past the horizon: the last call's spare steps
                found = known[s.id][c].reindex(stamps[lead:]).to_numpy(dtype="float64")
                given[:len(found)] = np.nan_to_num(found)
                rows[:, frame.columns.index(c)] = given
        out.append(scaler.of(s.id).transform(rows)[:, frame.feature_idx])
    return np.stack(out).astype("float32")


def read_future(path: str | Path, frame: Frame, horizon: int) -> dict[str, pd.DataFrame]:
    """`rollout --future FILE.csv`: the covariates over the forecast horizon, per series,
    indexed by time stamp. Every covariate input must be there for every forecast step."""
    covariates = [c for c in frame.features if c not in frame.targets + frame.derived]
    spec = DataSpec(time=frame.time_col, series=frame.series_col, features=covariates,
                    missing="error")
    future = read_series(path, spec, fallback_freq=frame.freq)
    got = {s.id: pd.DataFrame(s.values[:, :len(covariates)], index=s.ds, columns=covariates)
           for s in future.series}
    for s in frame.series:
        need = _future(frame, s, horizon)
        have = got.get(s.id)
        missing = need if have is None else need.difference(have.index)
        if len(missing):
            label = f"series '{s.id}'" if frame.is_long else "the series"
            raise DataError(f"{path}: {label} has no {covariates} for {_text(missing[0])} "
                            f"({len(missing)} of the {horizon} forecast step(s) missing); "
                            "the future file must cover the whole horizon")
    return got


def _interval_bands(bundle, horizon: int, n_targets: int, notes: list[str],
                    scale: np.ndarray | None = None) -> dict:
    """level -> (lo, hi) offsets for a rollout of one series (`scale`: its scaler's), when
    the run was calibrated."""
    from lstmcli.intervals import bands

    found = bundle.meta.get("intervals")
    if not found or _runs_whole_history(bundle):
        return {}
    note = (f"prediction intervals are calibrated for the first {found['horizon']} step(s) "
            "(training.interval_steps, at most the validation tail); later steps extend the "
            "last width by sqrt(h / N)")
    if horizon > found["horizon"] and note not in notes:
        notes.append(note)
    return bands(found, horizon, n_targets, scale)


def _with_baseline(frame: Frame, bundle, used: list, pred: list, short: list, horizon: int,
                   notes: list[str]) -> tuple[list, list]:
    """Series shorter than look_back: a Seasonal-Naive forecast (Naive when shorter than a
    season), in original units, with a note naming them. Returns (series, forecasts) in the
    file's order."""
    from lstmcli import metrics

    m = bundle.config.data.season_length or metrics.season_length(frame.freq)
    got = dict(zip([s.id for s in used], pred, strict=True))
    for s in short:
        history = s.values[:, frame.target_idx]
        got[s.id] = (metrics.seasonal_naive(history, horizon, m) if len(history) >= m > 1
                     else metrics.naive(history, horizon))
    names = ", ".join(repr(s.id) for s in short[:5]) + (
        f" and {len(short) - 5} more" if len(short) > 5 else "")
    notes.append(f"{len(short)} series shorter than look_back {bundle.config.window.look_back} "
                 f"forecast by {'Seasonal-Naive' if m > 1 else 'Naive'} (Naive if shorter "
                 f"than a season): {names}")
    return list(frame.series), [got[s.id] for s in frame.series]


def _floor(history: np.ndarray) -> np.ndarray:
    """Per target: 0 for a series that was never negative (its forecasts and bounds are
    clipped there), else -inf (no clipping)."""
    with np.errstate(invalid="ignore"):
        never_negative = np.nanmin(history, axis=0) >= 0
    return np.where(never_negative, 0.0, -np.inf)


def _runs_whole_history(bundle) -> bool:
    """Stateful and variable-length models read each series' whole history (through a
    stateful twin: identical to running the full sequence from a zero state)."""
    return bundle.config.training.mode == "stateful" or bundle.config.variable_length


def _per_step_model(bundle) -> bool:
    return bundle.config.model.topology == "many_to_many"


def _rows(frame: Frame, s, stamps, preds: np.ndarray, *, actual: np.ndarray | None = None,
          origin=None, bands: dict | None = None) -> list[dict]:
    """Output rows for one series (lstmcli/columns.py): [id,] time, [origin, step,]
    <target>_forecast..., [<target>_lo_<L>, <target>_hi_<L>...], [<target>_actual...].

    origin: the time stamp of the last known row, when the rows are the steps of one
    multi-step forecast (adds the origin and step columns); bands: level -> (lo, hi)
    bounds, each (rows, targets)."""
    from lstmcli import columns

    names = [columns.forecast(t) for t in frame.targets]
    bounds = [(level, k, columns.bound(t, "lo", level), columns.bound(t, "hi", level))
              for level in (bands or {}) for k, t in enumerate(frame.targets)]
    out = []
    for h, p in enumerate(preds):
        row = {frame.series_col: s.id} if frame.is_long else {}
        row[_time_name(frame)] = stamps[h]
        if origin is not None:
            row[columns.ORIGIN] = origin
            row[columns.STEP] = h + 1
        row.update(zip(names, p.tolist(), strict=True))
        for level, k, lo, hi in bounds:
            row[lo], row[hi] = float(bands[level][0][h, k]), float(bands[level][1][h, k])
        if actual is not None:
            row.update({columns.actual(t): float(v)
                        for t, v in zip(frame.targets, actual[h], strict=True)})
        out.append(row)
    return out


def _bounded(p: np.ndarray, floor: np.ndarray, offsets: dict) -> tuple[np.ndarray, dict]:
    """The forecast p (steps 1.., targets) in original units clipped at the series' floor
    (`_floor`), and its interval bounds {level: (lo, hi)} from the offsets of
    `_interval_bands`, clipped there too."""
    p = np.maximum(p, floor)
    n = len(p)
    return p, {level: (np.maximum(p + lo[:n], floor), np.maximum(p + hi[:n], floor))
               for level, (lo, hi) in offsets.items()}


def predict(data_path: str | Path, run_dir: str | Path, *, last: bool = False
            ) -> tuple[pd.DataFrame, dict]:
    """Predict the targets from every look_back window of a CSV (with the actual values), or,
    with `last`, the `horizon` steps after the end of each series.

    Stateful models instead run each series' whole history with its state carried, and
    predict every step after the first (with `last`: the step after the end).
    """
    from lstmcli.forecast import PREDICT_BATCH, predict_batches

    t0 = time.perf_counter()
    bundle, frame, checked = _load(run_dir, data_path, tail=last)
    w = bundle.config.window
    records: list[dict] = []
    if _runs_whole_history(bundle):
        from lstmcli.stateful import run_history

        used, notes = list(frame.series), []
        out = run_history(*_twin_and_rows(bundle, frame), columns=frame.feature_idx)
        longest = out.shape[1]
        for i, s in enumerate(used):
            steps = bundle.scaler.of(s.id).inverse(out[i, longest - len(s):],
                                                   frame.target_idx)
            steps = np.maximum(steps, checked.floor(frame, s))
            if last:
                records += _rows(frame, s, _future(frame, s, 1), steps[-1:])
            else:  # output t predicts row t + 1
                records += _rows(frame, s, s.ds[1:], steps[:-1],
                                 actual=s.values[1:, frame.target_idx])
        n_windows = len(used) if last else sum(len(s) - 1 for s in used)
        x_shape = [len(used), longest, len(frame.features)]
    else:
        used, notes = _scaled_inputs(frame, bundle.scaler, w.look_back)
        if last:
            views = [_last_windows(used, w.look_back)]
            starts = [len(rows) - w.look_back for _, rows in used]
            where = [(s, k) for (s, _), k in zip(used, starts, strict=True)]
        else:  # the windows whose predicted rows are all in the file, as strided views
            views, where = [], []
            for s, rows in used:
                n = len(rows) - w.look_back - w.horizon + 1
                if n > 0:
                    views.append(input_windows(rows, look_back=w.look_back)[:n])
                    where += [(s, k) for k in range(n)]
            if not where:
                raise DataError(f"{frame.path}: no window has known targets: every series needs "
                                f"more than look_back + horizon - 1 = "
                                f"{w.look_back + w.horizon - 1} rows; use --last to forecast "
                                "past the end")
        pred = predict_batches(bundle.model, _batched(views, PREDICT_BATCH))
        if _per_step_model(bundle):
            pred = pred[:, -1:, :]  # the prediction after the window's last step
        several = w.horizon > 1
        limits: dict[str, tuple] = {}  # per series: its floor and interval offsets
        for (s, k), p in zip(where, pred, strict=True):  # p: (horizon, targets)
            if s.id not in limits:
                limits[s.id] = (checked.floor(frame, s), _interval_bands(
                    bundle, len(p), len(frame.targets), notes,
                    bundle.scaler.of(s.id).scale[frame.target_idx]))
            p, bands = _bounded(bundle.scaler.of(s.id).inverse(p, frame.target_idx),
                                *limits[s.id])
            first = k + w.look_back  # the first predicted row; the origin is the one before
            if last:
                records += _rows(frame, s, _future(frame, s, w.horizon), p, bands=bands,
                                 origin=s.ds[-1] if several else None)
            else:
                records += _rows(frame, s, s.ds[first:first + w.horizon], p, bands=bands,
                                 actual=s.values[first:first + w.horizon, frame.target_idx],
                                 origin=s.ds[first - 1] if several else None)
        n_windows, x_shape = len(where), [len(where), w.look_back, len(frame.features)]
    table = pd.DataFrame.from_records(records)
    return table, {"command": "predict", "run_dir": str(run_dir), "data": str(data_path),
                   "mode": bundle.config.training.mode, "last": last, "windows": int(n_windows),
                   "rows": int(len(table)), "x_shape": x_shape,
                   "notes": frame.notes + checked.notes + notes,
                   "seconds": round(time.perf_counter() - t0, 3)}


def rollout(data_path: str | Path, run_dir: str | Path, *, horizon: int,
            future: str | Path | None = None, shown: str | Path | None = None,
            on_frame=None) -> tuple[pd.DataFrame, dict]:
    """Forecast `horizon` steps past the end of each series, feeding predictions back in.

    Stateless models slide their look_back window over the predictions. Stateful models
    warm their state up on each series' whole history, then continue one step at a time
    without a reset. shown: the file to name in messages, when data_path is a temporary
    copy of it (evaluate). on_frame(frame): given the data as read (for `rollout --plot`).
    """
    t0 = time.perf_counter()
    if horizon < 1:
        raise DataError(f"--horizon must be >= 1. Received: {horizon}")
    bundle, frame, checked = _load(run_dir, data_path, tail=True, shown=shown)
    unknown = [f for f in frame.features if f not in frame.targets and f not in frame.derived]
    one_call = (not _runs_whole_history(bundle) and not _per_step_model(bundle)
                and horizon <= bundle.config.window.horizon)  # nothing is fed back
    unfed = [t for t in frame.targets if t not in frame.features]
    if not one_call and (unfed or (unknown and future is None)):
        raise ModelError(f"{run_dir}: rollout feeds each prediction back as the next input, so "
                         f"every input must be predicted, a calendar feature, or a covariate "
                         f"given for the horizon with --future FILE.csv; this model has "
                         f"features {frame.features} and targets {frame.targets}. Retrain with "
                         "data.targets equal to data.features (calendar features may be added "
                         "with data.calendar), pass --future, or use `predict --last`")
    known = read_future(future, frame, horizon) if future is not None and unknown else None
    if frame.ahead and known is None:
        raise DataError(f"{run_dir}: data.future {frame.ahead} are known-ahead inputs: give "
                        "their values for the forecast steps with --future FILE.csv")
    for s in frame.series:  # the last row's known-ahead inputs: the first forecast step's
        for c in frame.ahead:
            s.values[-1, frame.columns.index(c)] = known[s.id][c].loc[_future(frame, s, 1)[0]]
    from lstmcli.forecast import window_rollout

    w = bundle.config.window
    order = feedback_order(frame)
    if _runs_whole_history(bundle):
        from lstmcli.stateful import warm_up_rollout

        used, notes, baseline = list(frame.series), [], set()
        exo = _future_features(frame, used, bundle.scaler, horizon, known)
        twin, rows = _twin_and_rows(bundle, frame)
        pred = warm_up_rollout(twin, rows, columns=frame.feature_idx, horizon=horizon,
                               feedback=order, exo=exo)
    else:
        short = [s for s in frame.series if len(s) < w.look_back]
        used, pred, notes, baseline = [], [], [], {s.id for s in short}
        if len(short) < len(frame.series):
            scaled, _ = _scaled_inputs(frame, bundle.scaler, w.look_back, tail=True)
            used = [s for s, _ in scaled]
            steps = horizon + w.horizon  # whole model calls
            pred = list(window_rollout(
                bundle.model, _last_windows(scaled, w.look_back), horizon=horizon,
                feedback=order, per_step=_per_step_model(bundle),
                exo=_future_features(frame, used, bundle.scaler, steps, known)))
        if short:  # every series gets a forecast: the baseline for those too short
            used, pred = _with_baseline(frame, bundle, used, pred, short, horizon, notes)
    pred = [p if s.id in baseline else bundle.scaler.of(s.id).inverse(p, frame.target_idx)
            for s, p in zip(used, pred, strict=True)]
    records: list[dict] = []
    for s, p in zip(used, pred, strict=True):
        scale = bundle.scaler.of(s.id).scale[frame.target_idx]
        p, bands = _bounded(p, checked.floor(frame, s), _interval_bands(
            bundle, horizon, len(frame.targets), notes, scale))
        records += _rows(frame, s, _future(frame, s, horizon), p, bands=bands)
    table = pd.DataFrame.from_records(records)
    if on_frame is not None:
        on_frame(frame)
    return table, {"command": "rollout", "run_dir": str(run_dir),
                   "data": str(shown or data_path),
                   "mode": bundle.config.training.mode, "horizon": horizon,
                   "series": len(used), "rows": int(len(table)), "freq": frame.freq,
                   "notes": frame.notes + checked.notes + notes,
                   "seconds": round(time.perf_counter() - t0, 3)}
