"""Which paths a command may write: the one output policy, checked before any work.

lstmcli writes only the files the user named (`--out`, `--plot`, `--log-file`, a run
directory), and never one it reads. For every output path:

- symlinks are resolved: the target is what gets written and locked, so two names for
  one file are one output and a link stays a link;
- a device, FIFO or socket (`/dev/null`, `/dev/stdout`, a named pipe) is written in place,
  never renamed over; `-` is stdout;
- it may not be (or resolve to) an input of the same command (the data CSV, `--config`,
  `--future`), lie inside a run directory the command reads, or hold one of its inputs
  (a run directory that would swallow the data file);
- two outputs of one command may not be the same file;
- an existing directory where a file is asked for, a parent that is a file, a parent
  without write permission, a name too long: refused up front, in words, exit 2.

Directories are created only when the output is written, once the command has succeeded
(see files.py).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from lstmcli.errors import OutputError

STDOUT = "-"
# Names of the process's own stdout and stderr: written through the open stream, never
# resolved (/dev/stdout of a command run as `> file` resolves to that file, and a rename
# over it would lose what the shell already wrote there).
STDOUT_NAMES = {STDOUT, "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"}
STDERR_NAMES = {"/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"}


def os_reason(exc: OSError) -> str:
    """An OS error's cause in words: 'no space left on device', 'permission denied'."""
    text = exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__
    return text[:1].lower() + text[1:]


def shown(path: str | Path, limit: int = 120) -> str:
    """A path as messages quote it: control characters escaped, cut in the middle when it
    is very long."""
    text = str(path).encode("unicode_escape", "backslashreplace").decode("ascii") \
        if not str(path).isprintable() else str(path)
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


def real(path: str | Path) -> Path:
    """`path` with every symlink resolved (a dangling one resolves to its target). Paths in
    /dev and /proc are kept as they are: they name streams and devices, written in place."""
    if _in_dev(path):
        return Path(path)
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):  # a symlink loop or a NUL byte: report it as given
        return Path(os.path.abspath(path))


def _in_dev(path: str | Path) -> bool:
    text = os.path.abspath(path)
    return text.startswith(("/dev/", "/proc/"))


def is_special(path: str | Path) -> bool:
    """A device, FIFO or socket (or a name in /dev or /proc): written in place, never
    replaced."""
    if _in_dev(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def missing_parents(path: Path) -> list[Path]:
    """The ancestors of `path` that do not exist yet, outermost first."""
    out = []
    for parent in path.parents:
        if os.path.lexists(parent):
            break
        out.append(parent)
    return out[::-1]


@dataclass(frozen=True)
class Dest:
    option: str   # how the user named it: "--out", "--plot", "--log-file"
    given: Path
    path: Path    # symlinks resolved
    directory: bool = False  # a run directory, not a file

    @property
    def special(self) -> bool:
        return is_special(self.path)


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_place(d: Dest) -> None:
    """The path itself can be written: not a directory (or a file, for a run directory),
    a parent that is a directory we may write in, names within the system's limit."""
    p, name = d.path, f"{d.option} {shown(d.given)}"
    try:
        os.stat(d.given)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{name}: {os_reason(exc)}") from None
    if (os.path.isdir(p) or str(d.given).endswith(os.sep)) and not d.directory:
        raise OutputError(f"{name}: is a directory; give a file name")
    for part in p.parts:
        if len(os.fsencode(part)) > 255:
            raise OutputError(f"{name}: file name too long ({len(part)} characters; "
                              "the limit is 255 bytes)")
    if len(os.fsencode(str(p))) >= 4096:
        raise OutputError(f"{name}: file name too long (the path is over 4,096 bytes)")
    missing = missing_parents(p)
    anchor = (missing[0] if missing else p).parent
    if not os.path.isdir(anchor):
        raise OutputError(f"{name}: {shown(anchor)} is not a directory")
    if not os.access(anchor, os.W_OK | os.X_OK):
        if d.special or (not missing and os.path.isfile(p) and os.access(p, os.W_OK)
                         and d.option == "--log-file"):
            return  # written in place: the directory's permissions do not matter
        raise OutputError(f"{name}: cannot write in {shown(anchor)} (permission denied)")


def _stdout_users(files: dict[str, Path | None], stdout_default: str | None) -> list[str]:
    users = [o for o, p in files.items() if p is not None and str(p) in STDOUT_NAMES]
    return users + ([stdout_default] if stdout_default else [])


def _run_files(folder: Path) -> set[tuple[int, int]]:
    """(device, inode) of the files of a run directory (hard links to them are its files)."""
    found = set()
    for i, p in enumerate(folder.rglob("*") if folder.is_dir() else []):
        if i > 10_000:
            break
        try:
            info = p.stat()
        except OSError:
            continue
        found.add((info.st_dev, info.st_ino))
    return found


def plan(*, inputs: dict[str, Path | None], runs_read: dict[str, Path | None],
         files: dict[str, Path | None], run_dirs: dict[str, Path | None],
         stdout_default: str | None = None) -> list[Dest]:
    """Check a command's outputs against its inputs, before any work. Returns the outputs,
    resolved. `inputs`: option -> file read; `runs_read`: option -> run directory read;
    `files`: option -> file written; `run_dirs`: option -> run directory written;
    `stdout_default`: what the command writes on stdout when --out is not given (its
    table, or --json), so that no second output lands there too."""
    from lstmcli.runs.locks import lock_path

    users = _stdout_users(files, stdout_default)
    if len(users) > 1:
        raise OutputError(f"{' and '.join(users)} would all write to stdout; give each output "
                          "its own place")
    if str(files.get("--log-file")) == STDOUT:
        raise OutputError("--log-file -: stdout carries the command's data; give a file (or "
                          "/dev/stderr)")
    dests = [Dest(o, Path(p), real(p)) for o, p in files.items()
             if p is not None and str(p) not in STDOUT_NAMES]
    dests += [Dest(o, Path(p), real(p), directory=True) for o, p in run_dirs.items()
              if p is not None]
    read = [(o, Path(p), real(p)) for o, p in inputs.items() if p is not None]
    runs = [(o, Path(p), real(p)) for o, p in runs_read.items() if p is not None]
    for d in dests:
        _check_place(d)
        name = f"{d.option} {shown(d.given)}"
        for option, given, path in read:
            if _same(d.path, path):
                raise OutputError(f"{name} is the {option} file this command reads "
                                  f"({shown(given)}); write to another file")
            if d.directory and _inside(path, d.path):
                raise OutputError(f"{name}: the run directory would replace the {option} file "
                                  f"inside it ({shown(given)}); write the run elsewhere")
        for option, given, path in runs:
            try:
                info = os.stat(d.path)
                linked = (info.st_dev, info.st_ino) in _run_files(path)
            except OSError:
                linked = False
            if _inside(d.path, path) or _same(d.path, path) or linked:
                raise OutputError(f"{name} is inside the run directory this command reads "
                                  f"({option} {shown(given)}); write to another place")
    locks = {d.option: lock_path(d.path) for d in dests if not d.special}
    for i, a in enumerate(dests):
        for b in dests[i + 1:]:
            if _same(a.path, b.path) or (a.directory and _inside(b.path, a.path)) or (
                    b.directory and _inside(a.path, b.path)) or (
                    locks.get(a.option) == b.path or locks.get(b.option) == a.path):
                raise OutputError(f"{a.option} {shown(a.given)} and {b.option} "
                                  f"{shown(b.given)} would overwrite each other; give each "
                                  "output its own place")
    return dests
