"""Reading the rows of a stateful batch side by side, in strict time order, from a CSV that
is never held in memory.

A stateful batch has one row per series (or per segment of one long series), and row j of
batch k must continue row j of batch k - 1. Streaming therefore cannot take the file in its
own order: batch k needs step k of every row of its group at once. Each batch row is a
`Span` of one series' rows; `group_steps` yields the rows of one group of spans as
consecutive blocks of time steps, right-aligned to a common length with PAD in front, the
layout `windows.chunk_layout` and `stateful.run_history` use.

Where each row comes from:

* **its own reader** (`_seek_rows`): when every non-blank line of the file is one row (no
  line breaks inside quoted fields) and the span's series is contiguous in the file (a file
  sorted by series, or a wide file of one series), each row is read by its own reader that
  starts at the span's first line. Memory: one read (256 KiB) per batch row, whatever
  the file's size.
* **one shared pass** (`_pass_rows`): otherwise (series interleaved, e.g. a file sorted by
  time, or line breaks inside quoted fields) the group's rows are taken from one pass
  over the file and held until every row of the group has reached the same step: memory
  is the furthest one series runs ahead of another in the file (small for a file sorted
  by time).

    spans = row_spans(sf, used, batch_size=4)     # series, or segments of one series
    for block in group_steps(sf, scaler, spans[:4], length=n, block=16, n_rows=4):
        ...                                       # (4, <=16, columns) float32, PAD in front
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.data import _sniff_delimiter, read_header
from lstmcli.errors import DataError
from lstmcli.scaling import Scaler
from lstmcli.windows import PAD, segment_bounds

READ_BYTES = 1 << 18  # bytes per read of a batch row's own reader (about 7000 rows)
SCAN_BYTES = 1 << 24  # bytes per read while finding line starts


@dataclass(frozen=True)
class Span:
    """One batch row: rows [start, stop) of series `sid` (places after dropping missing
    rows, as `stream._series_rows` counts them)."""

    sid: str
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def row_spans(series_rows: list[tuple[str, int]], batch_size: int
              ) -> tuple[list[Span], int]:
    """The batch rows for (series id, rows) pairs: one per series, or, for a single series
    and batch_size > 1, `windows.split_segments`'s contiguous segments (sharing a boundary
    row; the oldest rows trimmed so they are equally long). Returns (spans, trimmed)."""
    if len(series_rows) != 1 or batch_size == 1:
        return [Span(sid, 0, n) for sid, n in series_rows], 0
    (sid, n), = series_rows
    bounds, trimmed = segment_bounds(n, batch_size)
    return [Span(sid, a, b) for a, b in bounds], trimmed


# ------------------------------------------------------------------------ line starts


def line_starts(path: Path, rows: list[int], n_rows: int) -> dict[int, int] | None:
    """Byte offsets of data rows `rows` (0-based, after the header line), or None when the
    file's lines are not its rows one to one (line breaks inside quotes, lone CR line
    ends): then only a pass in file order reads it right. Blank lines are skipped, as
    pandas skips them. `n_rows` is how many data rows pandas read, which the count of
    non-blank lines must match."""
    wanted = sorted(set(rows))
    out: dict[int, int] = {}
    k = 0
    seen = 0  # non-blank lines ended so far (the header is number 1)
    pos = 0  # file offset of the block
    start = 0  # file offset where the line now being read began
    first = 0  # that line's first byte, if it began in an earlier block
    with open(path, "rb") as fh:
        while True:
            block = fh.read(SCAN_BYTES)
            if not block:
                break
            data = np.frombuffer(block, dtype=np.uint8)
            ends = np.flatnonzero(data == 10) + pos
            starts = np.concatenate([[start], ends[:-1] + 1])
            size = ends - starts
            blank = size == 0
            one = np.flatnonzero(size == 1)  # blank when that byte is "\r" (CRLF files)
            if len(one):
                at = starts[one]
                byte = np.where(at >= pos, data[np.maximum(at - pos, 0)], first)
                blank[one] = byte == 13
            kept = starts[~blank]  # where the non-blank lines ending in this block begin
            while k < len(wanted) and wanted[k] + 1 < seen + len(kept):
                out[wanted[k]] = int(kept[wanted[k] + 1 - seen])
                k += 1
            seen += len(kept)
            if len(ends):
                start = int(ends[-1]) + 1
            if pos <= start < pos + len(block):
                first = int(data[start - pos])
            pos += len(block)
        if pos > start:  # a last line without a line break
            fh.seek(start)
            if fh.read(4096).strip():
                if k < len(wanted) and wanted[k] + 1 == seen:
                    out[wanted[k]] = start
                    k += 1
                seen += 1
    if seen != n_rows + 1 or k < len(wanted):
        return None
    return out


# ---------------------------------------------------------------------------- readers


def _seek_rows(sf, span: Span, offset: int) -> Iterator[np.ndarray]:
    """The rows of `span` (raw, float64), read from byte `offset` (the line of its first
    row), missing rows dropped as the scan did. Stops at the span's end, or where the
    file's rows leave the series.

    Reads READ_BYTES at a time and parses the whole lines among them with a parser of
    their own: a long-lived pandas reader per batch row would keep megabytes of buffers
    each (measured: 4.4 MB per reader)."""
    from lstmcli.stream import _values

    path = Path(sf.path)
    header = read_header(path)
    wanted = set(sf.columns) | ({sf.series_col} if sf.series_col else set())
    usecols = [i for i, c in enumerate(header) if c in wanted]
    dtype = {header.index(sf.series_col): str} if sf.series_col else None
    sep = _sniff_delimiter(path)
    left = len(span)
    with open(path, "rb") as fh:
        fh.seek(offset)
        rest = b""
        while left:
            raw = fh.read(READ_BYTES)
            text = rest + raw
            if raw:  # parse up to the last complete line, keep the rest for the next read
                cut = text.rfind(b"\n") + 1
                text, rest = text[:cut], text[cut:]
            if not text.strip():
                if raw:
                    continue  # no line break yet: a line longer than READ_BYTES
                break
            try:
                chunk = pd.read_csv(io.BytesIO(text), sep=sep, header=None, usecols=usecols,
                                    dtype=dtype, skipinitialspace=True, encoding="utf-8")
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0]
                raise DataError(f"{path}: cannot parse as CSV ({first})") from None
            chunk.columns = [header[i] for i in usecols]
            end = len(chunk)
            if sf.series_col:
                other = (chunk[sf.series_col] != span.sid).to_numpy()
                if other.any():
                    end = int(other.argmax())
            vals = _values(chunk.iloc[:end], sf.columns, path)
            if sf.missing == "drop":
                vals = vals[~np.isnan(vals).any(axis=1)]
            vals = vals[:left]
            left -= len(vals)
            if len(vals):
                yield vals
            if end < len(chunk) or not raw:
                break
    if left:
        raise DataError(f"{path}: series '{span.sid}' ended {left} row(s) early; did the file "
                        "change since it was scanned?")


def _pass_rows(sf, spans: list[Span]) -> Iterator[dict[int, np.ndarray]]:
    """Per chunk of one pass in file order: {batch row: its rows (raw, float64) here}."""
    from lstmcli.stream import _series_rows

    by_sid: dict[str, list[int]] = {}
    for i, s in enumerate(spans):
        by_sid.setdefault(s.sid, []).append(i)
    for groups in _series_rows(sf):
        out: dict[int, list[np.ndarray]] = {}
        for sid, pos, rows in groups:
            for i in by_sid.get(sid, ()):
                s = spans[i]
                lo, hi = max(pos, s.start), min(pos + len(rows), s.stop)
                if hi > lo:
                    out.setdefault(i, []).append(rows[lo - pos:hi - pos])
        if out:
            yield {i: np.concatenate(v) if len(v) > 1 else v[0] for i, v in out.items()}


@dataclass(frozen=True)
class Plan:
    """How the rows of each span are read: the byte offset of its first line (own
    readers), or None (one shared pass per group)."""

    seek: dict[Span, int] | None
    note: str


def plan(sf, spans: list[Span]) -> Plan:
    """Own readers for every span when the file allows it (see the module's doc)."""
    by_id = {s.id: s for s in sf.series}
    contiguous = all(by_id[s.sid].last_row - by_id[s.sid].first_row + 1 == by_id[s.sid].n_all
                     for s in spans)
    if not contiguous:
        return Plan(None, "the series are interleaved in the file, so each row group is read "
                          "in one pass, holding the rows one series is ahead of another")
    from lstmcli.stream import file_places

    first = {s: by_id[s.sid].first_row + int(file_places(by_id[s.sid], np.array([s.start]))[0])
             for s in spans}  # the data row (of the file) where each span begins
    starts = line_starts(Path(sf.path), list(first.values()), sum(s.n_all for s in sf.series))
    if starts is None:
        return Plan(None, "the file's lines are not one row each (line breaks inside quoted "
                          "fields), so each row group is read in one pass")
    return Plan({s: starts[r] for s, r in first.items()},
                "each batch row is read by its own reader, in step with the others")


# --------------------------------------------------------------------------- lockstep


def group_steps(sf, scaler: Scaler | None, spans: list[Span], *, length: int, block: int,
                n_rows: int, how: Plan) -> Iterator[np.ndarray]:
    """Steps [0, length) of a group of batch rows, as consecutive (n_rows, <=block, columns)
    float32 blocks, scaled (scaler None: float64 as in the file): row i holds span i
    right-aligned (its last row at step length - 1) with PAD in front; rows past
    len(spans) are all PAD."""
    cols = len(sf.columns)
    offs = [length - len(s) for s in spans]
    if any(o < 0 for o in offs):
        raise ValueError("a span is longer than the group's length")
    bufs: list[np.ndarray] = [np.empty((0, cols)) for _ in spans]
    base = [0] * len(spans)  # span row of bufs[i][0]
    if how.seek is not None:
        feeds = [_seek_rows(sf, s, how.seek[s]) for s in spans]
        shared = None
    else:
        feeds, shared = None, _pass_rows(sf, spans)

    def pull(i: int) -> None:
        if shared is None:
            rows = next(feeds[i], None)
            if rows is None:
                raise DataError(f"{sf.path}: series '{spans[i].sid}' ended early; did the file "
                                "change since it was scanned?")
            bufs[i] = np.concatenate([bufs[i], rows])
            return
        got = next(shared, None)
        if got is None:
            raise DataError(f"{sf.path}: series '{spans[i].sid}' ended early; did the file "
                            "change since it was scanned?")
        for j, rows in got.items():
            bufs[j] = np.concatenate([bufs[j], rows])

    from lstmcli.stream import unchanged

    try:
        with unchanged(sf):  # an early end or a parse error may mean the file changed
            for a in range(0, length, block):
                b = min(a + block, length)
                out = np.full((n_rows, b - a, cols), PAD,
                              dtype="float32" if scaler else "float64")
                for i, s in enumerate(spans):
                    lo, hi = max(a - offs[i], 0), min(b - offs[i], len(s))  # span rows
                    if hi <= lo:
                        continue
                    while base[i] + len(bufs[i]) < hi:
                        pull(i)
                    rows = bufs[i][lo - base[i]:hi - base[i]]
                    out[i, lo + offs[i] - a:hi + offs[i] - a] = \
                        rows if scaler is None else (rows - scaler.shift) / scaler.scale
                    bufs[i], base[i] = bufs[i][hi - base[i]:], hi
                yield out
    finally:
        for f in feeds or []:
            f.close()
        if shared is not None:
            shared.close()


def groups_of(spans: list[Span], size: int) -> list[list[Span]]:
    """Consecutive groups of `size` spans (the last may be short)."""
    it = iter(spans)
    return [g for g in iter(lambda: list(itertools.islice(it, size)), [])]
