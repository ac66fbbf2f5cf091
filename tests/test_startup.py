"""`lstmcli --help` and `lstmcli window` never pay for importing TensorFlow."""

import subprocess
import sys

from conftest import REPO, TINY, wide_csv, write_yaml

PROBE = """
import runpy, sys
sys.argv = ["lstmcli", *{args!r}]
try:
    runpy.run_module("lstmcli", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def _run(*args):
    return subprocess.run([sys.executable, "-c", PROBE.format(args=[str(a) for a in args])],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_help_does_not_import_tensorflow():
    result = _run("--help")
    assert result.returncode == 0 and "window" in result.stdout
    assert "HEAVY=\n" in result.stderr


def test_window_does_not_import_tensorflow(tmp_path):
    data = wide_csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", TINY)
    result = _run("window", data, "--config", cfg, "--json")
    assert result.returncode == 0, result.stderr
    assert '"x_shape"' in result.stdout and "HEAVY=\n" in result.stderr


def test_train_does_import_it(tmp_path):
    """The probe itself works: a command that needs Keras shows up as heavy."""
    data = wide_csv(tmp_path / "d.csv")
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {"epochs": 1}})
    result = _run("train", data, "--config", cfg, "--out", tmp_path / "r", "-q")
    assert result.returncode == 0, result.stderr
    assert "HEAVY=keras,tensorflow" in result.stderr
