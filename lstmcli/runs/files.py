"""Write files so that a crash or an error never leaves half a file in place."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lstmcli.errors import OutputError
from lstmcli.runs.outputs import (
    STDERR_NAMES,
    STDOUT_NAMES,
    is_special,
    missing_parents,
    os_reason,
    real,
)

_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EPIPE,
                 errno.EACCES, errno.EPERM}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode a new file gets from open(2): 0666 less the umask."""
    return 0o666 & ~_umask()


def _failed(given: Path, exc: OSError) -> OutputError:
    return OutputError(f"{given}: cannot write ({os_reason(exc)})")


@contextlib.contextmanager
def _write_in_place(path: Path, given: Path, mode: str) -> Iterator[IO]:
    """A device, FIFO or socket (`-o /dev/null`): written directly (appended to, so nothing
    is truncated), never replaced. A FIFO that no process reads is an error, not a hang."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, mode.replace("w", "a"), **({} if "b" in mode else {"newline": ""}))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(f"{given}: a FIFO that no process reads; start its reader "
                              "first") from None
        raise _failed(given, exc) from None
    try:
        yield fh
        fh.close()
    except OSError as exc:
        if exc.filename not in (None, str(path)) or exc.errno not in _WRITE_ERRORS:
            raise
        raise _failed(given, exc) from None
    finally:
        with contextlib.suppress(OSError):
            fh.close()


@contextlib.contextmanager
def write_atomic(path: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Write the file `path` names so that it is whole or untouched.

    Symlinks are followed: their target is written. A regular file (or a new one) is
    written to a temporary sibling that is renamed over it on success (removed on
    failure); a replaced file keeps its mode, a new one follows the umask. A device, FIFO
    or socket is written in place; `-` is stdout. Missing parent directories are created
    here, when the output is written. OS errors become one-line `OutputError`s.
    """
    given = Path(path)
    mode = "wb" if binary else "w"
    if str(path) in STDOUT_NAMES or str(path) in STDERR_NAMES:  # the open stream itself
        stream = sys.stdout if str(path) in STDOUT_NAMES else sys.stderr
        yield stream.buffer if binary else stream
        stream.flush()
        return
    target = real(given)
    if is_special(target):
        with _write_in_place(target, given, mode) as fh:
            yield fh
        return
    try:
        keep = os.stat(target).st_mode & 0o7777
    except OSError:
        keep = new_file_mode()
    made = missing_parents(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        _remove_dirs(made)
        raise _failed(given, exc) from None
    try:
        with os.fdopen(fd, mode, **({} if binary else {"newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fchmod(fh.fileno(), keep)
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        _remove_dirs(made)
        ours = exc.filename in (tmp, str(target)) or (exc.filename is None
                                                       and exc.errno in _WRITE_ERRORS)
        if not ours:  # e.g. reading an input inside the block
            raise
        raise _failed(given, exc) from None
    except BaseException:
        _remove(tmp)
        _remove_dirs(made)
        raise


def _remove(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _remove_dirs(made: list[Path]) -> None:
    """The directories a failed write created (innermost first), if still empty."""
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # kernel or filesystem
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_dir(new: Path, target: Path) -> None:
    """Move directory `new` to `target`. An existing `target` is exchanged with `new` in
    one step where the system allows it, so `target` exists at every instant, then the
    old one is removed; elsewhere it is renamed aside first and put back on failure."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the previous target
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, old / target.name)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old / target.name, target)  # put the previous one back
        raise
    shutil.rmtree(old, ignore_errors=True)
