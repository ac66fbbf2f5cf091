"""Every command example in README.md and docs/*.md is run, so the docs cannot drift from
the tool.

The convention (also in docs/architecture.md, "Examples in the docs"):

- An example is a fenced block opened with ```console or ```sh. Nothing else is run:
  indented blocks and other fenced blocks (```yaml, ```text, ```python) are syntax
  summaries and illustrations, with placeholders such as DATA.csv, RUN_DIR or cfg.yaml.
- In a ```console block a command is a line starting with `$ `; the lines after it, up to
  the next command, are output it prints (stdout or stderr). Each shown line must appear
  in that output, compared with runs of whitespace made one space (messages are wrapped
  to the terminal); `...` in a shown line stands for any text. A command ending in
  `# exit N` must exit with N, every other one with 0.
- In a ```sh block every line that is not blank or a comment is a command that must exit 0
  (a trailing backslash continues it on the next line).
- `<!-- not run: <reason> -->` on the line before a block keeps it from being run: for what
  cannot run here (a cluster, installing the project) or runs for minutes. The reason is
  required, and the marker must stand right before a fenced example.

All examples run in document order (README.md, then docs/*.md by name) in one temporary
directory holding `sample_data/` and `configs/` (links to the repository's), so later
examples use the run directories earlier ones wrote. `lstmcli ...` lines run in this
process (TensorFlow is imported once); other lines (`printf ... > f.yaml`) run in bash
with the virtualenv's bin first on PATH. A `train` command that appears twice is run once.
A block of an `lstmcli` command with a file of sample_data/ that is neither an example nor
marked is an error: it looks runnable, so it must be run or say why not.

Budget: the test took 50-55 s on 2 cores busy with other jobs, most of it the first
epochs of the README's two trainings (XLA compiling). Keep it under ~90 s: a new example
that needs a model should use `runs/air` or train for a few epochs (`--epochs 5`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN = ("console", "sh")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
NOT_RUN = re.compile(r"^<!--\s*not run(?::\s*(.*?))?\s*-->\s*$")
EXIT = re.compile(r"\s#\s*exit\s+(\d+)\s*$")
SHELL = set("|&;<>()$`")


@dataclass
class Command:
    line: str  # as written, without the prompt and the exit comment
    code: int
    where: str  # file:line
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    lang: str
    where: str
    lines: list[str]
    not_run: str | None  # the reason, when marked


def blocks(path: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a Markdown file, and the problems with its not-run markers."""
    found, problems, lines = [], [], path.read_text().splitlines()
    marker, i = None, 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if NOT_RUN.match(lines[i].strip()):
            reason = NOT_RUN.match(lines[i].strip()).group(1)
            if not reason:
                problems.append(f"{path.name}:{i + 1}: a not-run marker needs a reason")
            marker = (i, reason or "")
        elif m:
            indent, fence, lang = m.groups()
            body, j = [], i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                body.append(lines[j][len(indent):])
                j += 1
            marked = marker is not None and marker[0] == i - 1
            if marker is not None and not marked:
                problems.append(f"{path.name}:{marker[0] + 1}: a not-run marker must stand "
                                "on the line right before a fenced block")
            if marked and lang not in RUN:
                problems.append(f"{path.name}:{marker[0] + 1}: a not-run marker before a "
                                f"```{lang} block, which is never run anyway")
            found.append(Block(lang, f"{path.name}:{i + 1}", body,
                               marker[1] if marked else None))
            marker, i = None, j
        elif lines[i].strip() and marker is not None and marker[0] != i:
            problems.append(f"{path.name}:{marker[0] + 1}: a not-run marker must stand on "
                            "the line right before a fenced block")
            marker = None
        i += 1
    return found, problems


def commands(block: Block) -> list[Command]:
    """The commands of an example block, with the output each shows."""
    path, first = block.where.split(":")
    out: list[Command] = []
    pending = ""
    for k, raw in enumerate(block.lines):
        where = f"{path}:{int(first) + 1 + k}"
        if block.lang == "console" and not pending:
            if raw.startswith("$ "):
                text = raw[2:]
            elif out and raw.strip():
                out[-1].shown.append(raw.strip())
                continue
            else:
                continue
        else:
            text = raw.strip()
            if not text or (text.startswith("#") and not pending):
                continue
        if text.endswith("\\"):
            pending += text[:-1].strip() + " "
            continue
        text, pending = pending + text, ""
        m = EXIT.search(text)
        code = int(m.group(1)) if m else 0
        line = text[:m.start()] if m else text
        if block.lang == "sh":  # a plain comment after the command
            line = line.split(" #")[0]
        out.append(Command(line.strip(), code, where))
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())


def appears(shown: str, output: str) -> bool:
    """Whether a shown line is in the output: whitespace runs as one space, `...` any text."""
    at = 0
    for piece in _flat(shown).split("..."):
        piece = piece.strip()
        found = output.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def _all_blocks() -> tuple[list[Block], list[str]]:
    found, problems = [], []
    for path in DOCS:
        b, p = blocks(path)
        found += b
        problems += p
    return found, problems


def test_the_convention_is_kept():
    found, problems = _all_blocks()
    examples = [b for b in found if b.lang in RUN and b.not_run is None]
    assert len(examples) >= 4, "no examples found: is the convention still the one above?"
    # a block that looks like a runnable example (an lstmcli command on the sample data)
    # must be one, or say why not
    for b in found:
        if b.lang not in RUN and any(re.search(r"^\$?\s*lstmcli\b.*sample_data/", line)
                                     for line in b.lines):
            problems.append(f"{b.where}: an lstmcli command on sample_data/ in a ```{b.lang} "
                            "block: make it a ```console example, or mark it not run")
    for path in DOCS:  # indented blocks (4 spaces after a blank line) likewise
        lines = path.read_text().splitlines()
        fenced = False
        for k, line in enumerate(lines):
            if FENCE.match(line):
                fenced = not fenced
            elif (not fenced and line.startswith("    ") and "sample_data/" in line
                  and re.match(r"\s+(\$ )?lstmcli\b", line)):
                problems.append(f"{path.name}:{k + 1}: an lstmcli command on sample_data/ "
                                "in an indented block: make it a ```console example")
    assert not problems, "\n".join(problems)


class Runner:
    """Runs example commands in one directory: lstmcli in this process, the rest in bash."""

    def __init__(self, cli, root: Path):
        self.cli, self.root, self.trained = cli, root, {}
        self.env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                    f"{os.environ.get('PATH', '')}", "NO_COLOR": "1"}

    def __call__(self, command: Command) -> tuple[int, str]:
        words = command.line.split()
        if words[0] == "lstmcli" and not SHELL & set(command.line):
            args = shlex.split(command.line)[1:]
            if args[0] == "train" and command.line in self.trained:
                return self.trained[command.line]
            result = self.cli.runner.invoke(self.cli_app, args, catch_exceptions=False)
            got = (result.exit_code, result.stdout + "\n" + result.stderr)
            if args[0] == "train":
                self.trained[command.line] = got
            return got
        done = subprocess.run(["bash", "-c", command.line], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout + "\n" + done.stderr

    @property
    def cli_app(self):
        from lstmcli.cli import app

        return app


def test_every_example_in_the_docs_runs(tmp_path, monkeypatch, cli):
    for name in ("sample_data", "configs"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    run = Runner(cli, tmp_path)
    found, _ = _all_blocks()
    failures, ran = [], 0
    for block in found:
        if block.lang not in RUN or block.not_run is not None:
            continue
        for command in commands(block):
            code, output = run(command)
            ran += 1
            flat = _flat(output)
            if code != command.code:
                failures.append(f"{command.where}: `{command.line}` exited {code}, the doc "
                                f"says {command.code}:\n{output.strip()[-2000:]}")
            missing = [s for s in command.shown if not appears(s, flat)]
            if missing:
                failures.append(f"{command.where}: `{command.line}` did not print:\n  "
                                + "\n  ".join(missing) + f"\nit printed:\n{output.strip()[-2000:]}")
    assert ran, "no example ran"
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("shown, output, expected", [
    ("error: a.yaml: window.look_bak: unknown key", "x error: a.yaml: window.look_bak: "
     "unknown key; did you mean", True),
    ("wrote ... rows to f.csv", "wrote 24 rows to f.csv", True),
    ("wrote 25 rows", "wrote 24 rows to f.csv", False),
    ("a long message wrapped", "a long\nmessage   wrapped", True),
])
def test_shown_lines_are_matched_loosely_but_not_too_loosely(shown, output, expected):
    assert appears(shown, _flat(output)) is expected


def test_blocks_and_commands_are_read_by_the_convention(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text("intro\n\n    lstmcli train DATA.csv -o RUN_DIR\n\n```console\n"
                   "$ lstmcli window a.csv -c b.yaml   # exit 4\nerror: a.csv: file not found\n"
                   "$ lstmcli --version\n```\n\n<!-- not run: needs a cluster -->\n```sh\n"
                   "lstmcli train a.csv \\\n  -o run   # a comment\n```\n\n```yaml\na: 1\n```\n"
                   "<!-- not run -->\n```sh\nx\n```\n")
    found, problems = blocks(doc)
    assert [(b.lang, b.not_run) for b in found] == [
        ("console", None), ("sh", "needs a cluster"), ("yaml", None), ("sh", "")]
    assert problems == ["d.md:20: a not-run marker needs a reason"]
    first = commands(found[0])
    assert [(c.line, c.code, c.shown) for c in first] == [
        ("lstmcli window a.csv -c b.yaml", 4, ["error: a.csv: file not found"]),
        ("lstmcli --version", 0, [])]
    assert first[0].where == "d.md:6"
    assert [c.line for c in commands(found[1])] == ["lstmcli train a.csv -o run"]
