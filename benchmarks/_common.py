"""Shared helpers for the benchmark scripts: machine description, medians, subprocess timing."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
LSTMCLI = str(Path(PY).with_name("lstmcli"))


def machine() -> str:
    """CPU, cores, memory and versions, from what this machine tells (Linux /proc)."""
    cpu, mem = "unknown CPU", ""
    with contextlib.suppress(OSError):
        models = [line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]
        cpu = models[0] if models else cpu
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    import numpy

    versions = [f"python {platform.python_version()}", f"numpy {numpy.__version__}"]
    return f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; " \
           + ", ".join(versions)


def tf_versions() -> str:
    import keras
    import tensorflow as tf

    return f"tensorflow {tf.__version__}, keras {keras.__version__}"


def median(xs) -> float:
    return statistics.median(xs)


def timed_run(cmd: list[str], **kw) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak resident memory (KiB, from GNU time) of a command."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True,
                         text=True, **kw)
    last = out.stderr.strip().splitlines()[-1].split()
    return float(last[0]), int(last[1]), out


def stopwatch():
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0
