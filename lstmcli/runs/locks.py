"""Advisory locks: two lstmcli processes never write the same output at once.

The lock for `path` is the file `.NAME.lock` beside it, locked with flock(2) and holding
the owner's pid. The kernel drops the lock when its process dies (even by SIGKILL), so a
lock file left behind by a killed process never blocks anyone; a clean exit removes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import signal
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lstmcli.errors import LockedError, OutputError


def lock_path(path: str | Path) -> Path:
    """The lock file of an output: beside its resolved target (two names for one file share
    one lock), or beside the outermost directory still to be created for it (a lock never
    creates directories)."""
    from lstmcli.runs.outputs import missing_parents, real

    path = real(path)
    missing = missing_parents(path)
    if missing:
        path = missing[0]
    return path.parent / f".{path.name}.lock"


def _owner(lock: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        return f"pid {int(lock.read_text().split()[0])}"
    return "another process"


def _try_lock(fd: int, wait: bool) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def hold(path: str | Path, *, wait: bool = False,
         on_wait: Callable[[str], None] | None = None) -> Iterator[Path | None]:
    """Hold the lock on `path` for the block: fail at once if another process holds it,
    or with wait=True block until it is free (`on_wait` hears who is waited for)."""
    from lstmcli.runs.outputs import is_special

    if is_special(path):  # a device or FIFO is written in place: nothing to lock beside it
        yield None
        return
    lock = lock_path(path)
    fd, held = None, False
    try:
        while True:
            with _signals_deferred():  # a signal here must not strand a lock file
                fd = _open_lock(path, lock)
                held = _try_lock(fd, wait=False)
            if not held:
                owner = _owner(lock)
                if not wait:
                    raise LockedError(f"{path}: locked by {owner} (lock file {lock}); another "
                                      "lstmcli job is writing it. Wait for it to finish, or "
                                      "pass --wait to queue behind it")
                if on_wait is not None:
                    on_wait(f"{path}: locked by {owner}; waiting")
                held = _try_lock(fd, wait=True)
            # The holder we waited for may have removed the file: then this lock is on an
            # orphaned inode, and a newcomer could lock the new file. Start again.
            try:
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
            fd, held = None, False
            time.sleep(0.01)
        with contextlib.suppress(OSError):  # the pid is a courtesy (a full disk refuses it)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield lock
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                if held and os.fstat(fd).st_ino == os.lstat(lock).st_ino:  # ours: remove it
                    os.unlink(lock)
            os.close(fd)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (then they are delivered)."""
    deferred = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_PID = re.compile(rb"\A\d*\n?\Z")


def _open_lock(path, lock: Path) -> int:
    """Open (or create) the lock file without following a symlink, and only if it is an
    lstmcli lock file: empty or holding a pid. Anything else is the user's: refused."""
    from lstmcli.runs.outputs import os_reason, shown

    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{shown(path)}: its lock file {shown(lock)} is a symlink; "
                              "lstmcli does not follow it (remove it)") from None
        raise OutputError(f"{shown(path)}: cannot create its lock file {shown(lock)} "
                          f"({os_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        head = os.pread(fd, 64, 0) if stat.S_ISREG(info.st_mode) else b"x"
    except OSError:
        head = b"x"
    if not _PID.match(head) or len(head) > 32:
        os.close(fd)
        raise OutputError(f"{shown(path)}: {shown(lock)} exists and is not an lstmcli lock "
                          "file; lstmcli keeps its lock there: move that file away")
    return fd
