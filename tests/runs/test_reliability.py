"""Crashes, signals, concurrency and logs: what cron and CI runs depend on.

Kills and locks are tested with real `lstmcli` processes (python -m lstmcli).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import RUN_FILES, TINY, wide_csv, write_yaml
from lstmcli import api
from lstmcli.config import config_from_dict
from lstmcli.errors import Interrupted, LockedError
from lstmcli.runs import locks
from lstmcli.runs.bundle import load_bundle
from lstmcli.runs.files import replace_dir
from lstmcli.training import checkpoints

# Long enough to be killed mid-training, small enough to finish in seconds.
SLOW = {**TINY, "training": {**TINY["training"], "epochs": 40, "batch_size": 4,
                             "early_stopping": {"patience": 1000}}}


def _weights(run: Path) -> list[np.ndarray]:
    return load_bundle(run).model.get_weights()


def _lstmcli(*args, **kw) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen([sys.executable, "-m", "lstmcli", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


def _stray(folder: Path, allowed: set[str]) -> list[str]:
    """Names in `folder` that are neither expected nor the advisory lock of a killed job."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name not in allowed and not p.name.endswith(".lock"))


# ---------------------------------------------------------------- checkpoints, resume


def test_resume_after_a_signal_gives_the_uninterrupted_weights(tmp_path):
    """SIGTERM (a real signal, to this process) after epoch 3 of 6: exit code 143, the
    epoch-3 checkpoint is kept; --resume then ends with the same weights, history and
    optimizer step count as a run that was never interrupted (no shuffle, no dropout)."""
    data = wide_csv(tmp_path / "d.csv", n=60)
    doc = {**TINY, "training": {**TINY["training"], "epochs": 6, "shuffle": False,
                                "jit_compile": False, "early_stopping": {"patience": 2}}}
    cfg = config_from_dict(doc)
    whole = api.train(data, cfg, out=tmp_path / "whole")

    def kill_after_third(epoch, epochs, logs, seconds):
        if epoch == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    run = tmp_path / "run"
    with pytest.raises(Interrupted) as info:
        api.train(data, cfg, out=run, on_epoch=kill_after_third)
    assert info.value.exit_code == 143
    assert "after 3 of 6 epoch(s)" in str(info.value) and "--resume" in str(info.value)
    assert not run.exists()
    kept = checkpoints.latest(checkpoints.work_dir(run))
    assert kept is not None and kept.name == "epoch-000003"

    resumed = api.train(data, cfg, out=run, resume=True)
    assert resumed["training"]["resumed_after"] == 3
    assert resumed["training"]["epochs_run"] == whole["training"]["epochs_run"]
    assert resumed["training"]["best_epoch"] == whole["training"]["best_epoch"]
    for a, b in zip(_weights(tmp_path / "whole"), _weights(run), strict=True):
        np.testing.assert_array_equal(a, b)
    a = (tmp_path / "whole" / "history.csv").read_text().splitlines()
    b = (run / "history.csv").read_text().splitlines()
    assert [r.rsplit(",", 1)[0] for r in a] == [r.rsplit(",", 1)[0] for r in b]  # not seconds
    assert sorted(p.name for p in run.iterdir()) == RUN_FILES
    assert not checkpoints.work_dir(run).exists()


def test_resume_refuses_other_data_and_keeps_the_checkpoint(tmp_path, cli):
    data = wide_csv(tmp_path / "d.csv", n=60)
    cfg = config_from_dict({**TINY, "training": {**TINY["training"], "epochs": 4}})

    def stop(epoch, epochs, logs, seconds):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as info:
        api.train(data, cfg, out=tmp_path / "run", on_epoch=stop)
    assert info.value.exit_code == 130
    other = wide_csv(tmp_path / "other.csv", n=61)
    cfg_path = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {**TINY["training"],
                                                                     "epochs": 4}})
    result = cli("train", other, "-c", cfg_path, "-o", tmp_path / "run", "--resume", code=3)
    assert "made with other data or another config" in result.stderr
    # without --resume, the checkpoint is not silently thrown away either
    result = cli("train", data, "-c", cfg_path, "-o", tmp_path / "run", code=5)
    assert "pass --resume to continue it, or --force to start over" in result.stderr
    assert checkpoints.latest(checkpoints.work_dir(tmp_path / "run")) is not None


def test_sigkill_at_random_moments_never_loses_the_previous_run(tmp_path, cli):
    """Retraining over an existing run is killed (SIGKILL) three times at random moments:
    the previous run stays loadable with the same weights each time; `--resume` then
    completes the new run with every epoch."""
    data = wide_csv(tmp_path / "d.csv", n=80)
    cfg = write_yaml(tmp_path / "c.yaml", SLOW)
    run = tmp_path / "run"
    cli("train", data, "-c", cfg, "-o", run, "--epochs", "2", "--quiet")
    before = _weights(run)
    work = checkpoints.work_dir(run)
    rng = random.Random(7)
    for attempt in range(3):
        resume = ["--resume"] if checkpoints.latest(work) else []
        proc = _lstmcli("train", data, "-c", cfg, "-o", run, "--force", "--quiet", *resume)
        if attempt == 2:  # the last kill comes after at least one checkpoint
            _wait_for(lambda p=proc: checkpoints.latest(work) is not None or p.poll() is not None)
            time.sleep(rng.uniform(0, 0.3))
        else:
            time.sleep(rng.uniform(0.5, 6.0))
        proc.kill()
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        for a, b in zip(before, _weights(run), strict=True):
            np.testing.assert_array_equal(a, b)
        assert _stray(tmp_path, {"d.csv", "c.yaml", "run", work.name}) == []
    assert checkpoints.latest(work) is not None
    result = cli("train", data, "-c", cfg, "-o", run, "--force", "--resume", "--json")
    assert '"epochs_run": 40' in result.stdout
    assert not work.exists()
    assert load_bundle(run).meta.training["epochs_run"] == 40


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_training_cleanly(tmp_path, sig):
    """The documented exit code (128 + signal), one error line saying what was kept and
    how to continue, no traceback; the checkpoint is there."""
    data = wide_csv(tmp_path / "d.csv", n=80)
    cfg = write_yaml(tmp_path / "c.yaml", SLOW)
    run = tmp_path / "run"
    proc = _lstmcli("train", data, "-c", cfg, "-o", run, "--quiet")
    _wait_for(lambda: checkpoints.latest(checkpoints.work_dir(run)) is not None)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"stopped by {signal.Signals(sig).name}" in lines[0]
    assert "--resume" in lines[0] and "Traceback" not in err
    assert not run.exists() and checkpoints.latest(checkpoints.work_dir(run)) is not None


# ------------------------------------------------------------------------ locks


def test_two_trainings_into_one_run_dir(tmp_path):
    """The second job fails fast naming the first one's pid; with --wait it queues behind
    it and then replaces the run; the result is one whole run directory."""
    data = wide_csv(tmp_path / "d.csv", n=80)
    cfg = write_yaml(tmp_path / "c.yaml", SLOW)
    run = tmp_path / "run"
    first = _lstmcli("train", data, "-c", cfg, "-o", run, "--quiet")
    _wait_for(lambda: locks.lock_path(run).exists())
    second = _lstmcli("train", data, "-c", cfg, "-o", run, "--epochs", "2")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 6, err
    assert f"locked by pid {first.pid}" in err and "--wait" in err
    assert first.poll() is None, "the first job was still running when the second failed"
    third = _lstmcli("train", data, "-c", cfg, "-o", run, "--epochs", "2", "--wait", "--force")
    _, err3 = third.communicate(timeout=120)
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert third.returncode == 0, err3
    assert f"locked by pid {first.pid}; waiting" in err3
    assert load_bundle(run).meta.training["epochs_run"] == 2  # the waiting job came last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "d.csv", "run"]


def test_forecast_output_lock(tmp_path, trained):
    """A forecast CSV held by another process (this one): exit 6 at once; with --wait the
    job writes it once the lock is released."""
    out = tmp_path / "forecast.csv"
    args = ("rollout", trained["data"], "-m", trained["run"], "-H", "3", "-o", out)
    with locks.hold(out):
        proc = _lstmcli(*args)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 6 and f"locked by pid {os.getpid()}" in err, err
        assert not out.exists()
        waiting = _lstmcli(*args, "--wait")
        time.sleep(1.0)
        assert waiting.poll() is None and not out.exists()
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert len(out.read_text().splitlines()) == 4
    assert not locks.lock_path(out).exists()


def test_lock_in_process_names_the_holder(tmp_path):
    target = tmp_path / "x.csv"
    with locks.hold(target) as lock:
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(LockedError, match=f"locked by pid {os.getpid()}"):
            with locks.hold(target):
                pytest.fail("a second holder got the lock")
    assert not lock.exists()


# ------------------------------------------------------------------ files, logging


def test_replace_dir_swaps_in_one_step(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "f").write_text("new")
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "f").write_text("old")
    replace_dir(tmp_path / "new", tmp_path / "target")
    assert (tmp_path / "target" / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_log_file_for_cron(tmp_path, cli, trained):
    """--quiet silences stderr, not the log: time-stamped lines, every epoch, the exit."""
    log = tmp_path / "cron.log"
    run = tmp_path / "run"
    result = cli("train", trained["data"], "-c", trained["config"], "-o", run, "--quiet",
                 "--log-file", log)
    assert result.stderr == "" and result.stdout == ""
    lines = log.read_text().splitlines()
    assert lines[0].split(" ", 1)[1].startswith("lstmcli train[")
    assert f"start: data={trained['data']}" in lines[0] and f"run_dir={run}" in lines[0]
    assert sum("] epoch " in line for line in lines) == 2
    assert lines[-1].endswith("exit 0") and any("wrote" in line for line in lines)
    cli("rollout", trained["data"], "-m", tmp_path / "missing", "-H", "2", "--log-file", log,
        code=5)
    lines = log.read_text().splitlines()
    assert "error:" in lines[-2] and "run directory not found" in lines[-2]
    assert lines[-1].endswith("exit 5")
    stamp = lines[-1].split(" ", 1)[0]
    assert stamp[:4].isdigit() and stamp[10] == "T"


@pytest.mark.parametrize("args, fragment", [
    (["rollout", "x.csv", "-m", "run", "-H", "-5"], "Invalid value for '--horizon'"),
    (["predict", "x.csv", "--bogus"], "No such option: --bogus"),
    (["train", "x.csv"], "Missing option"),
    (["rollout", "x.csv", "-m", "run", "-H", "99999999999999999999999"],
     "less than or equal to 100000"),
    (["train", "x.csv", "-o", "run", "--seed", "-1"], "greater than or equal to 0"),
    (["train", "x.csv", "-o", "run", "--seed", str(2**32)], "less than or equal to 4294967295"),
])
def test_usage_errors_are_one_line_too(args, fragment):
    """The installed entry point turns Typer's usage block into one `error:` line, exit 2."""
    proc = _lstmcli(*args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert f"(see `lstmcli {args[0]} -h`)" in lines[0]
