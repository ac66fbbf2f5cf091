"""Ensemble members (training.ensemble): fitted one after another, each from its own seed
(and, with training.ensemble_inputs, reading its own part of the window), then refit on
every row for its best epoch count (training.refit); one result for all of them. With
training.ensemble_validation: first, only the first member is fitted before the refit,
and every member is refit for its epoch count."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from lstmcli.config import Config
from lstmcli.data.read import Frame
from lstmcli.data.scaling import Scaler
from lstmcli.training.layouts import split_windows


def fit_members(config: Config, data, shape: dict, *, model, fitted, jit, persist, strategy,
                on_epoch, status):
    """Fit training.ensemble members one after another (each its own seed and initial
    weights); returns the model to save (the median of the members when several) and each
    member's TrainResult. `fitted` is what trains (seq2seq's teacher-forced twin)."""
    from lstmcli.models.topology import copy_weights, median_of, member
    from lstmcli.training.fit import fit, seed_everything

    members = config.training.ensemble
    if config.training.ensemble_validation == "first":
        members = 1  # the others train in the refit only, for this one's epoch count
    trained, results = [], []
    for k in range(members):
        if k:  # the next member: its own seed, its own initial weights
            seed_everything(config.training.seed + k)
            model = fitted = member(config.model, reads=config.member_reads(k), **shape)
        status(f"model {k + 1} of {members}: compiling (first epoch)…"
               if members > 1 else "compiling (first epoch)…")
        results.append(fit(fitted, data, config.training, on_epoch=on_epoch, jit_compile=jit,
                           persist=persist, strategy=strategy))
        if fitted is not model:
            copy_weights(fitted, model)  # the saved model feeds its own predictions back
        trained.append(model)
    return (median_of(trained) if members > 1 else model), results


def refit(frame: Frame, config: Config, results: list, shape: dict, scaler: Scaler, *,
           jit, status, on_epoch, out: Path, work: Path):
    """training.refit: each member trained again from its own seed on every row of every
    series (no validation tail, no early stopping) for its best epoch count (with
    training.ensemble_validation: first, the first member's), with the same scaler (so the
    intervals calibrated in its units hold). Returns (model, summary)."""
    from lstmcli.config import EarlyStoppingSpec
    from lstmcli.errors import Interrupted
    from lstmcli.models.topology import median_of, member
    from lstmcli.training.fit import Persistence, fit, seed_everything
    from lstmcli.training.signals import graceful_stop

    full = config.model_copy(update={"training": config.training.model_copy(update={
        "validation": 0.0, "early_stopping": EarlyStoppingSpec(enabled=False)})})
    _, data, _ = split_windows(frame, full, scaler=scaler)
    members, epochs, seconds = [], [], 0.0
    with graceful_stop() as stop:
        count = config.training.ensemble
        for k in range(count):
            best = results[min(k, len(results) - 1)].best_epoch
            seed_everything(config.training.seed + k)
            model = member(config.model, reads=config.member_reads(k), **shape)
            status(f"refit {k + 1} of {count} on every row…" if count > 1
                   else "refit on every row…")
            try:
                done = fit(model, data, full.training, epochs=best,
                           on_epoch=on_epoch, jit_compile=jit,
                           persist=Persistence(work=work, fingerprint="", every=0, stop=stop))
            except Interrupted as exc:
                raise Interrupted(f"{out}: {exc} (refit; nothing was written)",
                                  exc.exit_code - 128) from None
            members.append(model)
            epochs.append(best)
            seconds += done.seconds
    model = median_of(members) if len(members) > 1 else members[0]
    return model, {"epochs": epochs, "seconds": round(seconds, 3)}


def ensemble_result(results: list):
    """One TrainResult for K members: the histories one after another (with a `member`
    column when K > 1), times added, the mean of the members' best losses."""
    if len(results) == 1:
        return results[0]

    history = [{"member": k, **row} for k, r in enumerate(results) for row in r.history]
    return replace(results[-1], history=history,
                   best_loss=float(np.mean([r.best_loss for r in results])),
                   seconds=round(sum(r.seconds for r in results), 3))
