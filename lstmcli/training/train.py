"""`lstmcli train`: resolve the config (given, or picked from the data), read the data
into the series store, lay it out for the training mode, build and fit the model (or an
ensemble, refit), calibrate intervals, and save the run directory atomically under its
lock."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import Config
from lstmcli.data.read import Frame, read_series
from lstmcli.data.scaling import Scaler
from lstmcli.errors import UsageError
from lstmcli.evaluation.metrics import season_length
from lstmcli.options import options_spec, overridden, with_options
from lstmcli.runs.rundata import feedback_order, min_max, no_intervals
from lstmcli.training.layouts import first_inputs, sequence_layout, split_windows, stateful_layout
from lstmcli.training.layouts import resolved as _resolved
from lstmcli.training.layouts import reusable as _reusable
from lstmcli.training.layouts import usable_series as _usable_series
from lstmcli.training.members import ensemble_result, fit_members
from lstmcli.training.members import refit as refit_members


def train(data_path: str | Path | Frame, config: Config | None, *, out: str | Path,
          epochs: int | None = None,
          seed: int | None = None, force: bool = False, resume: bool = False,
          wait: bool = False, distribute: str | None = None, horizon: int | None = None,
          options: dict | None = None, on_epoch=None, on_wait=None, on_status=None,
          on_note=None) -> dict:
    """Train a model on a CSV and write the run directory `out`. Returns a summary.
    data_path may be a Frame already read with the config (a series store): no file is read.

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
    from lstmcli.runs.locks import hold
    from lstmcli.runs.outputs import real
    from lstmcli.training.checkpoints import work_dir
    from lstmcli.training.distribute import chief_in, tf_config

    shown, out = Path(out), real(out)  # through a symlink: the target is replaced
    frame, auto_notes = None, []
    if isinstance(data_path, Frame):  # already read (backtest: the rows before an origin)
        frame, data_path = data_path, data_path.path
    status = on_status or (lambda text: None)
    if config is None:  # picked from the data (which is then read only once)
        from lstmcli.evaluation.defaults import picked

        status(f"reading {Path(data_path).name}…")
        config, frame, auto_notes = picked(data_path, horizon=horizon,
                                           spec=options_spec(options))
    else:
        config = with_options(config, options)
        if horizon is not None and horizon != config.window.horizon:
            config = overridden(config, "window", "horizon", horizon, "--horizon")
    if distribute is not None:
        config = overridden(config, "training", "distribute", distribute, "--distribute")
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








def check_writable_run(out: Path, *, force: bool, resume: bool) -> None:
    """Fail before any work: RUN_DIR exists without --force, or an interrupted run's
    checkpoints would be thrown away (or are missing) for --resume."""
    from lstmcli.errors import BundleError
    from lstmcli.runs.bundle import META_FILE, check_writable
    from lstmcli.training import checkpoints

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
    from lstmcli.errors import Interrupted
    from lstmcli.models.topology import build_model, member
    from lstmcli.runs.bundle import save_bundle
    from lstmcli.training import checkpoints, distribute
    from lstmcli.training.fit import Persistence, seed_everything
    from lstmcli.training.signals import graceful_stop

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
    stateful = config.stateful
    dist = distribute.describe(strategy)
    scaler, data, notes = _layout(frame, config, strategy=strategy, dist=dist, writer=writer,
                                  cluster=cluster)
    notes = picked + notes
    if state is not None:
        notes.append(f"resuming after epoch {state.epochs_done} from {state.path}")
    every = config.training.checkpoint_every if writer else 0
    if cluster is not None:  # each worker keeps its own backup; a restarted one resumes
        from lstmcli.models.backend import import_keras

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
        model = member(config.model, reads=config.member_reads(0), **shape)
        fitted = model
        if config.teacher_forced:
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
                     f"{config.training.seed + members - 1}); forecasts are their median"
                     + ("; the first is early-stopped on the validation tail, the others "
                        "train in the refit only, for its epoch count"
                        if config.training.ensemble_validation == "first" else ""))
    if on_note is not None:  # what is known before training is said before it
        for note in frame.notes + notes:
            on_note(note)
    with graceful_stop() as stop:
        persist = Persistence(work=work, fingerprint=print_, every=every, resume=state,
                              stop=stop)
        try:
            with distribute.scope(strategy):
                model, results = fit_members(config, data, shape, model=model, fitted=fitted,
                                              jit=jit, persist=persist, strategy=strategy,
                                              on_epoch=on_epoch, status=status)
                result = ensemble_result(results)
        except Interrupted as exc:
            kept = checkpoints.latest(work)
            hint = (f"; checkpoint after epoch {int(kept.name.split('-')[1])} kept in {work}; "
                    "continue with the same command and --resume") if kept else \
                "; no checkpoint was written yet"
            raise Interrupted(f"{out}: {exc}{hint}", exc.exit_code - 128) from None
    if writer:
        status("calibrating prediction intervals…")
    intervals = _calibrate(model, frame, scaler, config, notes) if writer else None
    refit = None
    if config.training.refit:  # the tail held out above now trains too
        model, refit = refit_members(frame, config, results, shape, scaler, jit=jit,
                                     status=status, on_epoch=on_epoch, out=out, work=work)
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
        why = no_intervals(config, recorded=_uncalibrated(frame))
        if why:
            training["no_intervals"] = why
            notes.append(f"no prediction intervals: {why}")
    meta = _meta(data_path, config, frame, scaler, training, intervals, writer=writer)
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


def _layout(frame: Frame, config: Config, *, strategy, dist: dict, writer: bool,
            cluster: dict | None):
    """(scaler, TrainData, notes) of the training mode (under a strategy: the global
    batch of windows)."""
    from lstmcli.training import distribute

    if strategy is not None:
        replicas, per = dist["replicas"], config.training.batch_size
        scaler, data, notes = split_windows(frame, config, batch_size=per * replicas)
        notes.append(f"distribute: {dist['kind']}, {dist['num_workers']} worker(s), {replicas} "
                     f"replica(s) in sync: global batch {per * replicas} = training.batch_size "
                     f"{per} per replica x {replicas}" + ("" if writer else
                                                          f"; {distribute.task_name(cluster)} "
                                                          "is not the chief: it writes nothing"))
        return scaler, data, notes
    layout = (stateful_layout if config.stateful
              else sequence_layout if config.variable_length else split_windows)
    return layout(frame, config)


def _meta(data_path, config: Config, frame: Frame, scaler: Scaler, training: dict,
          intervals: dict | None, *, writer: bool) -> dict:
    """bundle.json's content (bundle.BundleMeta checks it when it is read)."""
    from lstmcli.models.backend import versions

    return {
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
    from lstmcli.runs.datacheck import ranges_of

    derived = getattr(frame, "derived", [])
    columns = [c for c in frame.columns if c not in derived]
    keep = [frame.columns.index(c) for c in columns]
    seen = {s.id: min_max(s.values[:, keep]) for s in frame.series if len(s)}
    return ranges_of(columns, seen, per_series=config.data.scale_per_series)




def _calibrate(model, frame: Frame, scaler: Scaler, config: Config, notes: list[str]
               ) -> dict | None:
    """Prediction-interval offsets from the validation tails (see intervals.py)."""
    from lstmcli.forecast.intervals import calibrate

    t = config.training
    if (not t.interval_steps or t.validation == 0 or config.stateful
            or config.variable_length):
        return None
    w = config.window
    used = [(lambda a, b, s=s: s.values[a:b], len(s), n, scaler.of(s.id))
            for s, n in _usable_series(frame, config, config.min_input + w.horizon)[0]]
    out = calibrate(model, used, feature_idx=frame.feature_idx,
                    target_idx=frame.target_idx, feedback=feedback_order(frame),
                    look_back=w.look_back, min_input=config.min_input,
                    per_step=config.per_step, horizon=t.interval_steps,
                    season=config.data.season_length or season_length(frame.freq))
    if out is not None:
        notes.append(f"prediction intervals (80%, 95%) calibrated on rollouts from "
                     f"{out['origins']} validation origin(s), {out['horizon']} step(s) ahead")
    return out


def _stamp(value) -> str | int:
    return int(value) if isinstance(value, (int, np.integer)) else pd.Timestamp(value).isoformat()
