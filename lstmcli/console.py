"""Output for people (stderr, via rich) and for programs (stdout: CSV or one JSON document).

Human output is plain - no colour, no live bars - when stderr is not a terminal, when
NO_COLOR is set, or with --quiet (which silences it altogether).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import sys

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
        plain = not sys.stderr.isatty() or "NO_COLOR" in os.environ
        self.err = Console(stderr=True, highlight=False, no_color=plain,
                           force_terminal=False if plain else None, soft_wrap=True)
        self.live = not plain and not quiet

    def open_log(self, arguments: dict | None = None) -> None:
        """Open --log-file for appending (line-buffered); a bad path is a one-line error.
        The first line records the command's arguments."""
        if self.log_path is None or self._log is not None:
            return
        from lstmcli.errors import UsageError
        from lstmcli.outputs import os_reason

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
            from lstmcli.outputs import os_reason

            self._log_failed = os_reason(exc)
        with contextlib.suppress(OSError):
            self._log.close()
        self._log = None
        if self._log_started and not self.quiet:
            self.err.print(f"note: {self.log_path_given}: cannot write the --log-file "
                           f"({self._log_failed}); logging stopped", markup=False)

    def close(self, code: int | None = None) -> None:
        if self._log is not None and code is not None:
            self.log(f"exit {code}")
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def info(self, message: str) -> None:
        self.log(message)
        if not self.quiet:
            self.err.print(message, markup=False)

    def note(self, message: str) -> None:
        self.log(f"note: {message}")
        if not self.quiet:
            self.err.print(f"note: {message}", markup=False)

    def error(self, message: str) -> None:
        # one line whatever it quotes: line breaks and other control characters escaped
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.log(f"error: {message}")
        self.err.print(f"error: {message}", markup=False, style="red")

    def render(self, renderable) -> None:
        if not self.quiet:
            self.err.print(renderable)

    def json(self, document: dict) -> None:
        text = json.dumps(_finite(document), default=str, indent=2, allow_nan=False)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def data(self, text: str) -> None:
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

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                            TextColumn("{task.description}"), TimeElapsedColumn(),
                            console=self.err, transient=False)
        task = None

        def report(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
            nonlocal task
            self.log(line(epoch, epochs, logs, seconds))
            if task is None:
                progress.start()
                task = progress.add_task("", total=epochs)
            desc = "  ".join(f"{k} {v:.5g}" for k, v in logs.items()
                             if k not in ("epoch", "seconds"))
            progress.update(task, completed=epoch, description=f"{desc}  {seconds:.2f}s/epoch")
            if epoch == epochs:
                progress.stop()

        report.stop = progress.stop  # type: ignore[attr-defined]
        return report
