"""Output for people on a terminal: the status line, the epoch bar's clock, notes said
once and early, lines wrapped at spaces only (a path is never cut)."""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.console import Console

from conftest import TINY, wide_csv, write_yaml
from lstmcli.console import Output, wrap

PATH = "/home/someone/forecasting/experiments/2026-11-30_weekly_sales_by_store/runs/run_0042"


def _terminal(out: Output, width: int = 80) -> io.StringIO:
    """Make `out` print to an interactive terminal of `width` columns; returns its text."""
    buf = io.StringIO()
    out.err = Console(file=buf, force_terminal=True, width=width, highlight=False,
                      soft_wrap=True, no_color=True)
    out.live = not out.quiet
    out.wrap_lines = True
    return buf


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_wrap_breaks_at_spaces_only():
    message = f"note: resuming after epoch 3 from {PATH}/checkpoints/epoch-0003 as asked"
    lines = wrap(message, 80).split("\n")
    assert f"  {PATH}/checkpoints/epoch-0003" in lines  # whole, on a line of its own
    assert all(len(line) <= 80 for line in lines if PATH not in line)
    assert " ".join(line.strip() for line in lines) == message
    assert wrap("short", 80) == "short"


def test_a_note_on_an_80_column_terminal_keeps_its_path_whole():
    out = Output(command="train")
    buf = _terminal(out)
    out.note(f"wrote {PATH}/model.keras and {PATH}/bundle.json")
    text = _plain(buf.getvalue())
    assert f"{PATH}/model.keras" in text.split("\n")[1] and f"{PATH}/bundle.json" in text
    out.note(f"wrote {PATH}/model.keras and {PATH}/bundle.json")  # said once
    assert _plain(buf.getvalue()) == text


def test_status_line_and_bar_count_from_the_command_start(tmp_path):
    log = tmp_path / "log.txt"
    out = Output(command="train", log_file=log)
    out.open_log({})
    buf = _terminal(out)
    out.t0 = time.monotonic() - 65  # the command started 65 s ago
    out.status("reading data.csv…")
    assert "reading data.csv…  0:01:05" in _plain(buf.getvalue())
    report = out.epoch_reporter()
    report(1, 2, {"loss": 0.5}, 1.0)  # the bar replaces the status line
    assert out._status is None and out._progress is not None
    report(2, 2, {"loss": 0.25}, 1.0)
    out.close(0)
    text = _plain(buf.getvalue())
    bar = [line for line in text.splitlines() if "epoch 2/2" in line][-1]
    assert re.search(r"0:01:0[5-9]$", bar.strip()), bar  # elapsed since the start
    logged = log.read_text()
    assert logged.count("reading data.csv…") == 1  # one plain line in the log


@pytest.mark.parametrize("kind", ["quiet", "json", "not a terminal"])
def test_no_status_line_when_quiet_json_or_not_a_terminal(kind, capsys):
    out = Output(quiet=kind == "quiet", as_json=kind == "json")
    if kind != "not a terminal":
        buf = _terminal(out)
    else:  # as on a pipe: Output's own console, plain
        buf = io.StringIO()
        out.err = Console(file=buf, force_terminal=False, soft_wrap=True)
    out.status("building the model…")
    out.close(0)
    assert "building" not in buf.getvalue() and out._status is None


def test_train_says_the_notes_known_before_training_before_it(cli, tmp_path):
    """Notes known before training (here: rows out of order) come before the first epoch
    line, and not again at the end."""
    data = wide_csv(tmp_path / "d.csv", n=30)
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n")
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {**TINY["training"],
                                                                "epochs": 1}})
    err = cli("train", data, "-c", cfg, "-o", tmp_path / "run").stderr.splitlines()
    sorted_note = [k for k, line in enumerate(err) if "not in time order" in line]
    first_epoch = next(k for k, line in enumerate(err) if line.startswith("epoch 1/1"))
    assert len(sorted_note) == 1 and sorted_note[0] < first_epoch
