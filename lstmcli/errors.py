"""The exceptions lstmcli raises for user mistakes, each with its exit code.

`cli.py` is the only place where these become exit codes and one-line messages.
Exit codes: 0 ok, 1 internal error, 2 usage (Typer's own), 3 config, 4 data,
5 model or run directory, 6 output locked by another process, 130 / 143 stopped by
SIGINT / SIGTERM.
"""


def listed(items: list[str], most: int = 5) -> str:
    """The first `most` items joined for a message, and how many more there are.

    >>> listed(["'a'", "'b'", "'c'"], most=2)
    "'a', 'b' and 1 more"
    """
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


class LstmcliError(Exception):
    """A mistake the user can fix; the message says what is wrong and how to fix it."""

    exit_code = 1


class UsageError(LstmcliError):
    """Options that do not fit together (Typer reports the others itself, also with 2)."""

    exit_code = 2


class OutputError(UsageError):
    """An output path that must not or cannot be written: an input of the same command,
    a directory, a parent that is a file, no permission, no space left (exit 2)."""


class ConfigError(LstmcliError):
    exit_code = 3


class DataError(LstmcliError):
    exit_code = 4


class ModelError(LstmcliError):
    exit_code = 5


class BundleError(ModelError):
    """A run directory that is missing, incomplete, or from an incompatible version."""


class LockedError(LstmcliError):
    """Another lstmcli process holds the advisory lock on the same output."""

    exit_code = 6


class Interrupted(LstmcliError):
    """SIGINT or SIGTERM stopped the command; the exit code is 128 + the signal number."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
