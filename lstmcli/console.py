"""Output for people (stderr, via rich) and for programs (stdout: CSV or one JSON document).

Human output is plain - no colour, no live bars, no status line - when stderr is not a
terminal, when NO_COLOR is set, or with --quiet (which silences it altogether). On a terminal
messages are wrapped at spaces only, so a path is never cut in two by lstmcli.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import sys
import textwrap
import time

from rich.console import Console


def _finite(value):
    """NaN and infinities become null: strict JSON parsers reject them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def wrap(text: str, width: int) -> str:
    """`text` broken at spaces to `width` columns, later lines indented by two. A word
    longer than the line (a long path) stays whole on a line of its own: it is never cut."""
    return "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False,
                                   subsequent_indent="  ") or line
                     for line in text.split("\n"))


def clock(seconds: float) -> str:
    """0:01:05, as rich's elapsed-time column writes it."""
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class _Since:
    """A status text and the time since the command started, on one line (ellipsis rather
    than a wrap when the terminal is narrow); re-rendered at every refresh."""

    def __init__(self, text: str, t0: float) -> None:
        self.text, self.t0 = text, t0

    def __rich__(self):
        from rich.text import Text

        return Text(f"{self.text}  {clock(time.monotonic() - self.t0)}", no_wrap=True,
                    overflow="ellipsis")


class Output:
    def __init__(self, *, quiet: bool = False, as_json: bool = False,
                 log_file: str | os.PathLike | None = None, command: str = "") -> None:
        self.quiet = quiet
        self.as_json = as_json
        self.log_path = log_file
        self.command = command
        self._log = None
        self._log_failed = ""
        self._log_started = False
        self.log_path_given = log_file
        self.t0 = time.monotonic()  # the command's start: status lines and bars count from it
        tty = sys.stderr.isatty()
        plain = not tty or "NO_COLOR" in os.environ
        self.err = Console(stderr=True, highlight=False, no_color=plain,
                           force_terminal=False if plain else None, soft_wrap=True)
        self.live = not plain and not quiet
        self.wrap_lines = tty  # messages wrapped at spaces to the terminal's width
        self._said: set[str] = set()  # notes already printed (one shown early is not repeated)
        self._status = None  # the live status line (rich Live of a Spinner), when shown
        self._progress = None  # the live epoch bar (rich Progress), when one is shown

    def open_log(self, arguments: dict | None = None) -> None:
        """Open --log-file for appending (line-buffered); a bad path is a one-line error.
        The first line records the command's arguments."""
        if self.log_path is None or self._log is not None:
            return
        from lstmcli.errors import UsageError
        from lstmcli.runs.outputs import os_reason

        try:
            self._log = open(self.log_path, "a", buffering=1, encoding="utf-8",  # noqa: SIM115
                             errors="backslashreplace")
        except OSError as exc:
            self.log_path = None
            raise UsageError(f"{self.log_path_given}: cannot open the --log-file "
                             f"({os_reason(exc)})") from None
        given = " ".join(f"{k}={v}" for k, v in (arguments or {}).items()
                         if v is not None and v is not False)
        self.log(f"start: {given}")
        if self._log is None:  # the first line could not be written: say so before any work
            raise UsageError(f"{self.log_path_given}: cannot write the --log-file "
                             f"({self._log_failed})")
        self._log_started = True

    def log(self, line: str) -> None:
        """One time-stamped line in the --log-file (whatever --quiet says). A log that can
        no longer be written (a full disk) is closed with one note; the command goes on."""
        if self._log is None:
            return
        stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        try:
            self._log.write(f"{stamp} lstmcli {self.command}[{os.getpid()}] {line}\n")
            return
        except OSError as exc:
            from lstmcli.runs.outputs import os_reason

            self._log_failed = os_reason(exc)
        with contextlib.suppress(OSError):
            self._log.close()
        self._log = None
        if self._log_started and not self.quiet:
            self.err.print(f"note: {self.log_path_given}: cannot write the --log-file "
                           f"({self._log_failed}); logging stopped", markup=False)

    def close(self, code: int | None = None) -> None:
        self.stop_live()
        if self._log is not None and code is not None:
            self.log(f"exit {code}")
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def _print(self, text: str, **style) -> None:
        if self.wrap_lines or self.err.is_terminal:  # at spaces: rich would cut a long path
            text = wrap(text, self.err.width)
        self.err.print(text, markup=False, **style)

    def info(self, message: str) -> None:
        self.log(message)
        if not self.quiet:
            self._print(message)

    def note(self, message: str) -> None:
        """A non-fatal note; one already printed (e.g. early, before training) is not
        printed or logged again."""
        if message in self._said:
            return
        self._said.add(message)
        self.log(f"note: {message}")
        if not self.quiet:
            self._print(f"note: {message}")

    def error(self, message: str) -> None:
        # one line whatever it quotes: line breaks and other control characters escaped
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.log(f"error: {message}")
        self.stop_live()
        self._print(f"error: {message}", style="red")

    def status(self, text: str) -> None:
        """What the command is doing now ("reading data.csv…"): one transient line with a
        spinner and the time since the command started, replaced by the next status or by
        the epoch bar, on an interactive stderr only (not with --quiet, --json or NO_COLOR,
        nor when stderr is not a terminal). The --log-file gets it as one plain line."""
        self.log(text)
        if not self.live or self.as_json:
            return
        self._stop_progress()
        if self._status is None:
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", style="status.spinner")
            self._status = Live(self._spinner, console=self.err, refresh_per_second=12.5,
                                transient=True)
            self._status.start()
        self._spinner.update(text=_Since(text, self.t0))
        self._status.refresh()  # now: the refresh thread may wait behind a long import

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def stop_live(self) -> None:
        """End the status line and the epoch bar (before stdout is written, and at exit)."""
        self._stop_status()
        self._stop_progress()

    def render(self, renderable) -> None:
        if not self.quiet:
            self.err.print(renderable)

    def json(self, document: dict) -> None:
        self.stop_live()
        text = json.dumps(_finite(document), default=str, indent=2, allow_nan=False)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def data(self, text: str) -> None:
        self.stop_live()
        sys.stdout.write(text)
        sys.stdout.flush()

    def epoch_reporter(self):
        """A plain callable for the core: one line per epoch, or a live bar on a terminal
        (and a line in the --log-file either way)."""
        def line(epoch: int, epochs: int, logs: dict, seconds: float) -> str:
            metrics = "  ".join(f"{k} {v:.5g}" for k, v in logs.items()
                                if k not in ("epoch", "seconds"))
            return f"epoch {epoch}/{epochs}  {metrics}  {seconds:.2f}s"

        if self.quiet or not self.live:
            def report(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
                self.log(line(epoch, epochs, logs, seconds))
                if not self.quiet:
                    self.err.print(line(epoch, epochs, logs, seconds), markup=False)
            return report

        from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
        from rich.text import Text

        t0 = self.t0

        class SinceStart(ProgressColumn):
            """Elapsed time since the command started (reading and compiling included)."""

            def render(self, task) -> Text:
                return Text(clock(time.monotonic() - t0), style="progress.elapsed")

        shown = 0  # the last epoch on the bar: a lower one starts a new bar (next member)

        def report(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
            nonlocal shown
            self.log(line(epoch, epochs, logs, seconds))
            if self._progress is not None and epoch <= shown:
                self._stop_progress()
            if self._progress is None:  # replaces the status line ("compiling ...")
                self._stop_status()
                self._progress = Progress(TextColumn("epoch {task.completed}/{task.total}"),
                                          BarColumn(), TextColumn("{task.description}"),
                                          SinceStart(), console=self.err, transient=False)
                self._progress.start()
                self._progress.add_task("", total=epochs)
            desc = "  ".join(f"{k} {v:.5g}" for k, v in logs.items()
                             if k not in ("epoch", "seconds"))
            task = self._progress.task_ids[0]
            self._progress.update(task, completed=epoch,
                                  description=f"{desc}  {seconds:.2f}s/epoch")
            shown = epoch
            if epoch == epochs:
                self._stop_progress()

        report.stop = self._stop_progress  # type: ignore[attr-defined]
        return report
