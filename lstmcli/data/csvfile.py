"""A CSV file as lstmcli reads it: the header (delimiter sniffed, duplicate and blank
names, encodings), chunks of rows, and the pieces every message about a file uses (line
numbers as an editor shows them, names and values quoted and cut, the flag that sets a
key)."""

from __future__ import annotations

import codecs
import csv
import difflib
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from lstmcli.errors import DataError

CHUNK_ROWS = 250_000  # rows parsed at a time
MAX_ABS = 1e15  # larger values are refused: float32 training would lose them or overflow
SNIFF_BYTES = 64 << 10  # the delimiter is guessed from the header line within this many bytes
MAX_HEADER_BYTES = 4 << 20  # a longer first line is refused (a file with no line breaks)
SHOW = 80  # characters of a value or name quoted in a message


def _line(row: int) -> int:
    """1-based line in the CSV file of a 0-based data row (the header is line 1). Lines end
    at \\n, \\r\\n or a lone \\r, as pandas reads them (blank lines are not counted)."""
    return int(row) + 2


def _clean(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped (\\n, \\x00, ...):
    a message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(text: str) -> str:
    """`text` cut to SHOW characters, escaped as `_clean` does."""
    if len(text) <= SHOW:
        return _clean(text)
    return f"{_clean(text[:SHOW])}... ({len(text)} characters)"


def _col(name: object) -> str:
    """A column name (or series id) as a message quotes it: 'name', cut to SHOW characters."""
    text = str(name)
    if len(text) <= SHOW:
        return f"'{_clean(text)}'"
    return f"'{_clean(text[:SHOW])}...' ({len(text)} characters)"


def _val(value: object) -> str:
    """A cell's value as a message quotes it: its repr (line breaks escaped), cut to SHOW
    characters."""
    if isinstance(value, str) and len(value) > SHOW:
        return f"{value[:SHOW]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= SHOW else f"{text[:SHOW]}... ({len(text)} characters)"


def _cols(names, most: int = 20) -> str:
    """A list of column names as a message shows it: ['a', 'b'], at most `most` of them."""
    names = list(names)
    shown = ", ".join(_val(str(n)) for n in names[:most])
    more = f", ... ({len(names)} in all)" if len(names) > most else ""
    return f"[{shown}{more}]"


# A number written with a decimal comma ("1,5", "-0,25"), as many locales write them
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+\s*$")


def _did_you_mean(missing, columns) -> str:
    """'; did you mean 'sales'?' for names not among the columns that one of them matches
    apart from case, or closely (difflib); '' when none does."""
    columns = [str(c) for c in columns]
    lower = {c.lower(): c for c in columns}
    pairs = []
    for name in map(str, missing):
        close = ([lower[name.lower()]] if name.lower() in lower
                 else difflib.get_close_matches(name, columns, n=1))
        if close:
            pairs.append((name, close[0]))
    if not pairs:
        return ""
    if len(missing) == 1:
        return f"; did you mean {_col(pairs[0][1])}?"
    return "; did you mean " + ", ".join(f"{_col(c)} for {_col(n)}" for n, c in pairs) + "?"


def _breaks(block: bytes, after_cr: bool) -> int:
    """Line breaks (\\n, \\r\\n or a lone \\r) that end in `block`; `after_cr`: the block
    before ended with \\r (so a \\n first here ends no new line)."""
    n = block.count(b"\n")
    if b"\r" in block:
        n += block.count(b"\r") - block.count(b"\r\n")
        if block.endswith(b"\r"):
            n -= 1  # counted with the next block, which may begin with \n
    if after_cr and not block.startswith(b"\n"):
        n += 1  # the previous block's last \r was a line end of its own
    return n


def _first_line(path: Path, limit: int) -> tuple[bytes, bool]:
    """The first line's bytes (at most `limit`, without the line break) and whether it
    ended within them."""
    with path.open("rb") as fh:
        data = b""
        while len(data) < limit:
            block = fh.read(min(SNIFF_BYTES, limit - len(data)))
            if not block:
                return data, True
            start = len(data)
            data += block
            cut = min((i for i in (data.find(b"\n", start), data.find(b"\r", start))
                       if i >= 0), default=-1)
            if cut >= 0:
                return data[:cut], True
    return data, False


def _sniff_delimiter(path: Path) -> str:
    """The delimiter (, ; tab or |) of the header line, guessed from its first SNIFF_BYTES
    bytes at most; "," when there is no telling."""
    head, _ = _first_line(path, SNIFF_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _not_utf8(path: Path) -> DataError:
    """Where the first byte that is not UTF-8 is: line and byte value."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, after_cr = 1, False
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = max(exc.start - pending, 0)
                before = block[:at]
                line = lines + _breaks(before, after_cr) + before.endswith(b"\r")
                return DataError(f"{path}: line {line}: byte 0x{block[at]:02x} is not UTF-8 "
                                 "text; save the file as UTF-8")
            lines, after_cr = lines + _breaks(block, after_cr), block.endswith(b"\r")
    return DataError(f"{path}: not UTF-8 text; save the file as UTF-8")


def _parse_error(path: Path, exc: Exception) -> DataError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(first) > 4 * SHOW:
        first = f"{first[:4 * SHOW]}..."
    return DataError(f"{path}: cannot parse as CSV ({_clean(first)})")


def _read_csv(path: Path, **kw):
    try:
        return pd.read_csv(path, sep=_sniff_delimiter(path), encoding="utf-8-sig",
                           skipinitialspace=True, **kw)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows") from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise _parse_error(path, exc) from None


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV, checked for duplicates (which pandas would silently
    rename to `y.1`, ...). A first line longer than MAX_HEADER_BYTES is refused."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    head, ended = _first_line(path, MAX_HEADER_BYTES)
    if not ended:
        raise DataError(f"{path}: line 1 (the header) is longer than "
                        f"{MAX_HEADER_BYTES >> 20} MiB without a line break; is this a CSV "
                        "file? Lines must end with \\n, \\r\\n or \\r")
    # The header row as written (pandas' own header would rename a second `y` to `y.1`):
    # a plain line is split here (with 10,000 columns, pandas takes a second); one with
    # quotes, a blank one (pandas skips it) or one that is not UTF-8 is read by pandas.
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        line = ""
    if line.strip() and '"' not in line:
        raw = [c.strip() for c in line.split(_sniff_delimiter(path))]
    else:
        first = _read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
        if not len(first):
            raise DataError(f"{path}: the file is empty; expected a header row and data rows")
        raw = [str(c).strip() for c in first.iloc[0]]
    dupes = sorted(c for c, n in Counter(raw).items() if n > 1)
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) {_cols(dupes)}")
    return [c or f"Unnamed: {j}" for j, c in enumerate(raw)]  # pandas' names for blank ones


def _chunks(path: Path, **kw):
    """The CSV in chunks of CHUNK_ROWS rows; a parse error in any chunk is a DataError."""
    reader = _read_csv(path, chunksize=CHUNK_ROWS, **kw)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise _parse_error(path, exc) from None


def _count_lines(path: Path) -> int:
    """An upper bound on the data rows: the number of line breaks (\\n, \\r\\n or a lone
    \\r, as pandas splits lines), plus one."""
    n, after_cr = 1, False
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            n += _breaks(block, after_cr)
            after_cr = block.endswith(b"\r")
    return n + after_cr


# Command-line options that set a data key, named in messages that tell how to set it.
FLAGS = {"data.time": "--time-col", "data.series": "--id-col", "data.targets": "--target",
         "data.freq": "--freq", "data.missing": "--missing"}


def setting(key: str) -> str:
    """A data key as a message tells how to set it: 'data.freq (--freq)'."""
    return f"{key} ({FLAGS[key]})" if key in FLAGS else key
