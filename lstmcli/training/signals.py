"""SIGINT and SIGTERM during training: finish the step, keep the checkpoint, exit cleanly.

The first signal only sets a flag, which training checks between steps and after each
epoch's checkpoint; a second signal stops at once. Exit code 128 + the signal number
(130 for SIGINT, 143 for SIGTERM), as shells report it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from lstmcli.errors import Interrupted


@dataclass
class StopRequest:
    signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


@contextlib.contextmanager
def graceful_stop() -> Iterator[StopRequest]:
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal handlers can only be set from the main thread
        return

    def handler(signum, frame):
        if request.signum is not None:
            raise Interrupted(f"stopped by a second {signal.Signals(signum).name}", signum)
        request.signum = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
