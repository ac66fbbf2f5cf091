"""Start-up time: `lstmcli --help` and `lstmcli window` (no TensorFlow) beside `import tensorflow`.

    python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import LSTMCLI, PY, REPO, machine, median


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.yaml"
        cfg.write_text("window: {look_back: 12}\nmodel: {layers: [{units: 4}]}\n")
        commands = {
            "lstmcli --help": [LSTMCLI, "--help"],
            "lstmcli window (airline, --json)": [LSTMCLI, "window", str(
                REPO / "sample_data" / "airline_passengers.csv"), "-c", str(cfg), "--json"],
            "python -c 'import tensorflow'": [PY, "-c", "import tensorflow"],
            "python -c 'pass'": [PY, "-c", "pass"],
        }
        for name, cmd in commands.items():
            wall(cmd)  # warm the file cache
            times = [wall(cmd) for _ in range(args.repeats)]
            print(f"{name:36s} median {median(times):6.3f} s   "
                  f"(min {min(times):.3f}, max {max(times):.3f}, n={args.repeats})")


if __name__ == "__main__":
    main()
