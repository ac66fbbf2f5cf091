"""The output policy (lstmcli/runs/outputs.py, files.py): lstmcli writes only what it was asked
to write. Every data-loss case checks that the input's bytes and mode are unchanged."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY, write_yaml
from lstmcli.errors import OutputError
from lstmcli.runs import locks
from lstmcli.runs.bundle import load_bundle
from lstmcli.runs.outputs import plan


@pytest.fixture
def work(tmp_path, trained):
    """A folder with the data (mode 0640, to see a mode change), a config and a run."""
    data = tmp_path / "d.csv"
    shutil.copy(trained["data"], data)
    data.chmod(0o640)
    cfg = write_yaml(tmp_path / "cfg.yaml", TINY)
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    return tmp_path, data, cfg, run


def _fingerprint(*paths: Path) -> dict:
    return {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in paths}


def _one_error(result, fragment: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], \
        result.stderr
    assert "Traceback" not in result.stderr


CASES = {
    "rollout_out_is_data": (["rollout", "{data}", "-m", "{run}", "-H", "3", "-o", "{data}"],
                            "--out {data} is the DATA.csv file this command reads"),
    "predict_out_is_data": (["predict", "{data}", "-m", "{run}", "-o", "{data}"],
                            "is the DATA.csv file"),
    "window_out_is_data": (["window", "{data}", "-c", "{cfg}", "-o", "{data}"],
                           "is the DATA.csv file"),
    "window_out_is_config": (["window", "{data}", "-c", "{cfg}", "-o", "{cfg}"],
                             "is the --config file"),
    "plot_is_data": (["rollout", "{data}", "-m", "{run}", "-H", "3", "--plot", "{data}"],
                     "--plot {data} is the DATA.csv file"),
    "log_file_is_data": (["rollout", "{data}", "-m", "{run}", "-H", "3", "--log-file",
                          "{data}"], "--log-file {data} is the DATA.csv file"),
    "out_is_run_file": (["predict", "{data}", "-m", "{run}", "-o", "{run}/bundle.json"],
                        "is inside the run directory this command reads"),
    "log_file_is_run_file": (["rollout", "{data}", "-m", "{run}", "-H", "3", "--log-file",
                              "{run}/bundle.json"], "inside the run directory"),
    "out_is_future_file": (["rollout", "{data}", "-m", "{run}", "-H", "3", "--future",
                            "{data}", "-o", "{data}"], "is the DATA.csv file"),
    "out_is_link_to_data": (["rollout", "{data}", "-m", "{run}", "-H", "3", "-o", "{link}"],
                            "is the DATA.csv file"),
    "evaluate_out_is_data": (["evaluate", "{data}", "-m", "{run}", "-H", "3", "-o",
                              "{data}"], "is the DATA.csv file"),
    "train_run_dir_holds_data": (["train", "{data}", "-c", "{cfg}", "-o", "{dir}",
                                  "--force"], "would replace the DATA.csv file inside it"),
    "train_log_in_run_dir": (["train", "{data}", "-c", "{cfg}", "-o", "{run}", "--force",
                              "--log-file", "{run}/bundle.json"], "would overwrite each other"),
    "out_and_plot_same_file": (["rollout", "{data}", "-m", "{run}", "-H", "3", "-o",
                                "{dir}/f.csv", "--plot", "{dir}/f.csv"],
                               "would overwrite each other"),
}


@pytest.mark.parametrize("name", CASES)
def test_an_input_is_never_an_output(cli, work, name):
    tmp, data, cfg, run = work
    (tmp / "link.csv").symlink_to(data)
    args, fragment = CASES[name]
    places = {"data": data, "cfg": cfg, "run": run, "dir": tmp, "link": tmp / "link.csv"}
    kept = _fingerprint(data, cfg, *sorted(p for p in run.rglob("*") if p.is_file()))
    before = sorted(p.name for p in tmp.iterdir())

    result = cli(*[a.format(**places) for a in args], code=2)

    _one_error(result, fragment.format(**places))
    assert _fingerprint(*kept) == kept
    assert sorted(p.name for p in tmp.iterdir()) == before


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/null and /dev/full")
def test_devices_are_written_in_place_and_their_errors_reported(cli, work):
    _, data, _, run = work
    result = cli("predict", data, "-m", run, "-o", "/dev/null")
    assert "to /dev/null" in result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device, not a file

    result = cli("rollout", data, "-m", run, "-H", "3", "-o", "/dev/full", code=2)
    _one_error(result, "/dev/full: cannot write (no space left on device)")
    result = cli("rollout", data, "-m", run, "-H", "3", "--log-file", "/dev/full", code=2)
    _one_error(result, "cannot write the --log-file (no space left on device)")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_written_not_replaced(cli, work):
    tmp, data, _, run = work
    fifo = tmp / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    cli("rollout", data, "-m", run, "-H", "3", "-o", fifo)
    text, _ = reader.communicate(timeout=30)
    assert len(text.strip().splitlines()) == 4  # header + 3 forecast rows
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_symlinked_output_writes_its_target_under_one_lock(cli, work):
    tmp, data, _, run = work
    target = tmp / "target.csv"
    target.write_text("old\n")
    target.chmod(0o644)
    link = tmp / "latest.csv"
    link.symlink_to(target.name)
    cli("rollout", data, "-m", run, "-H", "3", "-o", link)
    assert link.is_symlink() and os.readlink(link) == "target.csv"
    assert target.read_text().count("\n") == 4
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert locks.lock_path(link) == locks.lock_path(target)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_a_replaced_file_keeps_its_mode(cli, work, mode):
    tmp, data, _, run = work
    out = tmp / "f.csv"
    out.write_text("old\n")
    out.chmod(mode)
    cli("rollout", data, "-m", run, "-H", "3", "-o", out)
    assert stat.S_IMODE(out.stat().st_mode) == mode and out.read_text() != "old\n"


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_a_new_file_follows_the_umask(cli, work, umask):
    tmp, data, cfg, run = work
    previous = os.umask(umask)
    try:
        cli("rollout", data, "-m", run, "-H", "3", "-o", tmp / "new.csv")
        cli("window", data, "-c", cfg, "-o", tmp / "w.npz")
    finally:
        os.umask(previous)
    for name in ("new.csv", "w.npz"):
        assert stat.S_IMODE((tmp / name).stat().st_mode) == 0o666 & ~umask


def test_directories_are_created_only_when_the_command_succeeds(cli, work):
    tmp, data, _, run = work
    bad = tmp / "bad.csv"
    bad.write_text(data.read_text().replace("\n", "\nnot-a-date,1\n", 1))
    cli("rollout", bad, "-m", run, "-H", "3", "-o", tmp / "a" / "b" / "p.csv", code=4)
    assert not (tmp / "a").exists()
    assert not list(tmp.glob(".*.lock"))
    cli("rollout", data, "-m", run, "-H", "3", "-o", tmp / "a" / "b" / "p.csv")
    assert (tmp / "a" / "b" / "p.csv").is_file() and not list(tmp.rglob(".*.lock"))


@pytest.mark.parametrize("how,fragment", [
    ("dir", "is a directory; give a file name"),
    ("parent_file", "is not a directory"),
    ("long_name", "file name too long"),
])
def test_impossible_outputs_are_refused_before_any_work(cli, work, how, fragment):
    tmp, data, _, run = work
    out = {"dir": tmp, "parent_file": data / "f.csv",
           "long_name": tmp / ("x" * 300 + ".csv")}[how]
    result = cli("rollout", data, "-m", run, "-H", "3", "-o", out, code=2)
    _one_error(result, fragment)
    assert len(result.stderr) < 400  # a long path is cut in the message


def test_a_read_only_directory_is_a_clean_error(cli, work, monkeypatch):
    """A directory the user may not write in is refused before any work. Tests run as root
    here, which may write anywhere: the permission check is made to answer as for a user."""
    tmp, data, _, run = work
    locked = tmp / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    real_access = os.access
    if os.geteuid() == 0:
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked
                            else real_access(p, mode, **kw))
    try:
        result = cli("rollout", data, "-m", run, "-H", "3", "-o", locked / "f.csv", code=2)
        _one_error(result, "cannot write in")
        assert "(permission denied)" in result.stderr and list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_a_symlinked_run_directory_is_replaced_at_its_target(cli, work):
    tmp, data, cfg, run = work
    real_run = tmp / "real_run"
    shutil.copytree(run, real_run)
    (real_run / "checkpoints").mkdir()
    link = tmp / "link"
    link.symlink_to(real_run.name)
    for _ in range(2):  # the second run must not go through a leftover link either
        cli("train", data, "-c", cfg, "-o", link, "--force", "--quiet")
        assert link.is_symlink() and os.readlink(link) == "real_run"
        assert sorted(p.name for p in real_run.iterdir()) == sorted(
            ["bundle.json", "config.yaml", "history.csv", "model.keras"])
        assert not [p.name for p in tmp.iterdir() if p.name.startswith(".")]
    load_bundle(link)
    assert not (tmp / ".link.partial").exists()


def test_output_policy_plan_unit():
    here = Path(__file__)
    with pytest.raises(OutputError, match="is the DATA.csv file"):
        plan(inputs={"DATA.csv": here}, runs_read={}, files={"--out": here}, run_dirs={})
    with pytest.raises(OutputError, match="would replace the DATA.csv file inside it"):
        plan(inputs={"DATA.csv": here}, runs_read={}, files={}, run_dirs={"--out": here.parent})
    dests = plan(inputs={"DATA.csv": here}, runs_read={},
                 files={"--out": Path("-"), "--plot": here.parent / "p.png"}, run_dirs={})
    assert [d.option for d in dests] == ["--plot"]


def test_sigterm_leaves_no_temporary_or_lock_file(tmp_path, trained):
    """SIGTERM while rollout runs (after it took the output's lock): exit 143, one line,
    and neither the lock file nor a temporary file is left."""
    out = tmp_path / "f.csv"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen([sys.executable, "-m", "lstmcli", "rollout", str(trained["data"]),
                             "-m", str(trained["run"]), "-H", "3", "-o", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".f.csv.lock"
    t0 = time.monotonic()
    while not lock.exists() and proc.poll() is None:
        assert time.monotonic() - t0 < 60
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # the lock is taken before TensorFlow loads (seconds): the signal always comes first
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["error: stopped by SIGTERM"]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------- a second adversarial round (review)


def test_a_lock_path_that_is_a_symlink_is_never_followed(cli, work):
    tmp, data, _, run = work
    (tmp / ".f.csv.lock").symlink_to(data)
    kept = _fingerprint(data)
    result = cli("rollout", data, "-m", run, "-H", "3", "-o", tmp / "f.csv", code=2)
    _one_error(result, "is a symlink; lstmcli does not follow it")
    assert _fingerprint(data) == kept and (tmp / ".f.csv.lock").is_symlink()


def test_a_users_file_at_the_lock_path_is_left_alone(cli, work):
    tmp, data, cfg, _ = work
    mine = tmp / ".run2.lock"
    mine.write_text("keep me\n")
    result = cli("train", data, "-c", cfg, "-o", tmp / "run2", code=2)
    _one_error(result, "is not an lstmcli lock file")
    assert mine.read_text() == "keep me\n" and not (tmp / "run2").exists()


def test_an_output_at_another_outputs_lock_path_is_refused(cli, work):
    tmp, data, _, run = work
    result = cli("rollout", data, "-m", run, "-H", "3", "-o", tmp / "f.csv", "--plot",
                 tmp / ".f.csv.lock", code=2)
    _one_error(result, "would overwrite each other")


def test_a_hard_link_to_a_run_file_is_a_run_file(cli, work):
    tmp, data, _, run = work
    link = tmp / "cfglink"
    os.link(run / "config.yaml", link)
    kept = _fingerprint(run / "config.yaml")
    result = cli("predict", data, "-m", run, "--last", "--log-file", link, code=2)
    _one_error(result, "inside the run directory this command reads")
    assert _fingerprint(run / "config.yaml") == kept


@pytest.mark.parametrize("args, fragment", [
    (["--plot", "/dev/stdout"], "--plot and the forecast table (no --out) would all write"),
    (["-o", "-", "--plot", "-"], "--out and --plot would all write to stdout"),
    (["--log-file", "-"], "would all write to stdout"),
])
def test_two_outputs_on_stdout_are_refused(cli, work, args, fragment):
    _, data, _, run = work
    result = cli("rollout", data, "-m", run, "-H", "3", *args, code=2)
    _one_error(result, fragment)


def test_dev_stdout_is_the_open_stream_not_the_file_behind_it(tmp_path, trained):
    """`-o /dev/stdout >> file`: appended through the shell's stream; the file keeps what
    it held (it used to be renamed over)."""
    target = tmp_path / "res.csv"
    target.write_text("PREVIOUS\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    with target.open("a") as fh:
        done = subprocess.run([sys.executable, "-m", "lstmcli", "rollout", str(trained["data"]),
                               "-m", str(trained["run"]), "-H", "2", "-o", "/dev/stdout"],
                              stdout=fh, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = target.read_text().splitlines()
    assert lines[0] == "PREVIOUS" and len(lines) == 4


def test_a_fifo_without_a_reader_is_an_error_not_a_hang(cli, work):
    tmp, data, _, run = work
    os.mkfifo(tmp / "pipe")
    result = cli("rollout", data, "-m", run, "-H", "3", "-o", tmp / "pipe", code=2)
    _one_error(result, "a FIFO that no process reads")


def test_a_symlink_loop_is_refused_up_front(cli, work):
    tmp, data, cfg, run = work
    (tmp / "la").symlink_to("lb")
    (tmp / "lb").symlink_to("la")
    result = cli("rollout", data, "-m", run, "-H", "3", "-o", tmp / "la", code=2)
    _one_error(result, "too many levels of symbolic links")
    result = cli("train", data, "-c", cfg, "-o", tmp / "la", code=2)
    _one_error(result, "too many levels of symbolic links")
    assert (tmp / "la").is_symlink() and not (tmp / ".la.partial").exists()


def test_a_line_break_in_a_path_stays_on_one_error_line(cli, work):
    tmp, data, _, run = work
    weird = tmp / "di\nr"
    weird.mkdir()
    result = cli("rollout", data, "-m", run, "-H", "3", "-o", weird, code=2)
    _one_error(result, "is a directory")
    result = cli("rollout", data, "-m", tmp / "no\nrun", "-H", "3", code=5)
    _one_error(result, "run directory not found")
