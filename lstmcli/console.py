"""Output for people (stderr, via rich) and for programs (stdout: CSV or one JSON document).

Human output is plain - no colour, no live bars - when stderr is not a terminal, when
NO_COLOR is set, or with --quiet (which silences it altogether).
"""

from __future__ import annotations

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
    def __init__(self, *, quiet: bool = False, as_json: bool = False) -> None:
        self.quiet = quiet
        self.as_json = as_json
        plain = not sys.stderr.isatty() or "NO_COLOR" in os.environ
        self.err = Console(stderr=True, highlight=False, no_color=plain,
                           force_terminal=False if plain else None, soft_wrap=True)
        self.live = not plain and not quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message, markup=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"note: {message}", markup=False)

    def error(self, message: str) -> None:
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
        """A plain callable for the core: one line per epoch, or a live bar on a terminal."""
        if self.quiet:
            return None
        if not self.live:
            def report(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
                metrics = "  ".join(f"{k} {v:.5g}" for k, v in logs.items()
                                    if k not in ("epoch", "seconds"))
                self.err.print(f"epoch {epoch}/{epochs}  {metrics}  {seconds:.2f}s", markup=False)
            return report

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                            TextColumn("{task.description}"), TimeElapsedColumn(),
                            console=self.err, transient=False)
        task = None

        def report(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
            nonlocal task
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
