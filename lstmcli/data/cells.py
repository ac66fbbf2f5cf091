"""A chunk's cells: time stamps (dates in nanoseconds, or integer steps, each within range),
numbers (decimal commas and text named in the error), and the value columns chosen from
the data section (features, targets)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import DataSpec
from lstmcli.data.csvfile import (
    DECIMAL_COMMA,
    MAX_ABS,
    _col,
    _cols,
    _did_you_mean,
    _line,
    _short,
    _val,
)
from lstmcli.errors import DataError

# Timestamps are nanoseconds in int64 (pandas' range); integer time steps stay within
# +-MAX_STEP, so that differences and `last + steps * step` cannot overflow int64 unseen.
TIME_MIN, TIME_MAX = pd.Timestamp.min, pd.Timestamp.max
TIME_RANGE = (f"{TIME_MIN.ceil('s'):%Y-%m-%d %H:%M:%S} .. {TIME_MAX.floor('s'):%Y-%m-%d %H:%M:%S}")
MAX_STEP = 2 ** 62
ZONE = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def _mixed_zones(path, row, name: str, value: str) -> DataError:
    return DataError(f"{path}: line {_line(row)}: column {_col(name)} mixes timestamps with and "
                     f"without a time zone ({_val(value)}); give every timestamp an offset, "
                     "or none")


INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def _steps(col: pd.Series, name: str, path: Path) -> pd.Series:
    """Integer time steps as int64, each within +-MAX_STEP (else a DataError naming it)."""
    far = None
    if pd.api.types.is_integer_dtype(col):
        values = col.to_numpy()
        if values.dtype.kind == "u":  # read as uint64: some are >= 2**63
            far = np.flatnonzero(values >= np.uint64(MAX_STEP))
        else:
            far = np.flatnonzero((values >= MAX_STEP) | (values <= -MAX_STEP))
    else:  # whole numbers beyond uint64, which pandas leaves as text (int() of more than
        # 4300 digits raises: longer ones are far enough already)
        far = np.flatnonzero([len(v.strip().lstrip("+-").lstrip("0")) > 19
                              or abs(int(v)) >= MAX_STEP for v in col.astype(str)])
    if len(far):
        pos = int(far[0])
        raise DataError(f"{path}: line {_line(col.index[pos])}: time step "
                        f"{_short(str(col.iloc[pos]).strip())} in column {_col(name)} is "
                        f"beyond ±{MAX_STEP} (2**62): steps counted on from it could overflow "
                        "64-bit integers; renumber the steps (e.g. from 0)")
    return col.astype("int64")


def _parse_time(col: pd.Series, name: str, path: Path) -> pd.Series:
    """The time column as int64 steps (a column of whole numbers) or datetime64[ns]
    timestamps (time zones converted to UTC); a DataError names the first bad line."""
    if col.isna().any():
        row = int(col.index[np.flatnonzero(col.isna().to_numpy())[0]])
        raise DataError(f"{path}: line {_line(row)}: empty timestamp in column {_col(name)}")
    if pd.api.types.is_integer_dtype(col):
        return _steps(col, name, path)  # plain step numbers (e.g. a year or an index)
    text = col.astype(str)
    if INTEGER.fullmatch(text.iloc[0]) and text.str.fullmatch(INTEGER.pattern).all():
        # whole numbers that pandas left as text: too large for int64
        return _steps(col, name, path)
    # Time zones: when the first stamp has one, every stamp must (offsets may differ, e.g.
    # across a daylight-saving change: all go to UTC). Checked only then: it is slow.
    zoned = bool(ZONE.search(text.iloc[0]))
    if zoned:
        has = text.str.contains(ZONE.pattern, regex=True).to_numpy()
        if not has.all():
            pos = int(np.flatnonzero(~has)[0])
            raise _mixed_zones(path, col.index[pos], name, text.iloc[pos])
    with warnings.catch_warnings():  # pandas warns when it falls back to dateutil
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        parsed = pd.to_datetime(text, errors="coerce", utc=zoned)
    if parsed.dtype == object:  # zones appear later in the column
        pos = int(np.flatnonzero([ZONE.search(v) is not None for v in text])[0])
        raise _mixed_zones(path, col.index[pos], name, text.iloc[pos])
    bad = parsed.isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        if ZONE.search(text.iloc[pos]):
            raise _mixed_zones(path, col.index[pos], name, text.iloc[pos])
        raise DataError(f"{path}: line {_line(col.index[pos])}: cannot parse timestamp "
                        f"{_val(col.iloc[pos])} in column {_col(name)} (mixed or unknown date "
                        "format?)")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    # pandas reads dates beyond nanosecond int64 at a coarser unit; converted to ns (as
    # every stamp downstream is) they would wrap around silently: refuse them here
    far = ((parsed < TIME_MIN) | (parsed > TIME_MAX)).to_numpy()
    if far.any():
        pos = int(np.flatnonzero(far)[0])
        raise DataError(f"{path}: line {_line(col.index[pos])}: timestamp {_val(col.iloc[pos])}"
                        f" in column {_col(name)} is outside the supported range {TIME_RANGE} "
                        "(nanosecond timestamps); use dates in that range, or step numbers")
    return parsed.dt.as_unit("ns")


def _numeric_column(df: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    raw = df[name]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column {_col(name)} has a "
                        f"non-numeric value {_val(raw.iloc[pos])}")
    out = values.to_numpy(dtype="float64")
    inf = np.isinf(out)
    if inf.any():
        pos = int(np.flatnonzero(inf)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column {_col(name)} has an "
                        "infinite value")
    huge = np.abs(out) > MAX_ABS
    if huge.any():  # the model computes in float32 (max ~3.4e38) and pads with -1e30
        pos = int(np.flatnonzero(huge)[0])
        raise DataError(f"{path}: line {_line(df.index[pos])}: column {_col(name)} has the value "
                        f"{out[pos]:g}, beyond ±{MAX_ABS:g}; rescale the column (e.g. to "
                        "other units) first")
    return out


def _numeric(dtype) -> bool:
    return dtype.kind in "iuf"  # not bool, text or anything else


def _numeric_columns(df: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """(rows, len(columns)) float64: `_numeric_column` of each column, with the same first
    error, but columns that pandas read as numbers are converted and checked together (a
    file may have 10,000 columns)."""
    place = {c: j for j, c in enumerate(df.columns)}
    dtypes = dict(zip(df.columns, df.dtypes, strict=True))
    fast = [j for j, c in enumerate(columns) if _numeric(dtypes[c])]
    out = np.empty((len(df), len(columns)), dtype="float64")
    first_bad = len(columns)
    if fast:
        block = df.iloc[:, [place[columns[j]] for j in fast]].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            bad = (np.abs(block) > MAX_ABS).any(axis=0)  # infinite or huge (NaN: missing)
        if bad.any():
            first_bad = fast[int(np.flatnonzero(bad)[0])]
        out[:, fast] = block
    for j, c in enumerate(columns):  # text columns, in order, up to the first bad number
        if j >= first_bad:
            break
        if not _numeric(dtypes[c]):
            out[:, j] = _numeric_column(df, c, path)
    if first_bad < len(columns):
        _numeric_column(df, columns[first_bad], path)  # raises, naming the cell
    return out


def _auto_features(df: pd.DataFrame, skip: set[str], notes: list[str]) -> list[str]:
    """Numeric columns, plus columns that are mostly numeric (so a stray bad cell is reported
    instead of the column vanishing silently)."""
    out = []
    for c, dtype in zip(df.columns, df.dtypes, strict=True):
        if c in skip:
            continue
        if _numeric(dtype):
            out.append(c)
            continue
        parsed = pd.to_numeric(df[c], errors="coerce")
        if parsed.notna().mean() >= 0.5:
            out.append(c)  # _numeric_column will name the bad cell
        else:
            notes.append(f"column {_col(c)} is not numeric and is not used")
    return out


def _choose_columns(chunk: pd.DataFrame, spec: DataSpec, skip: set[str], path: Path,
                    notes: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Features, targets, and all value columns (features first), from the config or the
    first chunk's numeric columns."""
    features = list(spec.features) if spec.features else _auto_features(chunk, skip, notes)
    if not features:
        text = [c for c in chunk.columns if c not in skip]
        example = ""
        if text:
            cell = str(chunk[text[0]].iloc[0])
            fix = ("write numbers with a decimal point (1.5, not 1,5) and no thousands "
                   "separators" if DECIMAL_COMMA.match(cell) else
                   "write plain numbers, without units or thousands separators")
            example = f" (column {_col(text[0])} holds text such as {_val(cell)}: {fix})"
        raise DataError(f"{path}: no numeric columns to use as features; columns are "
                        f"{_cols(chunk.columns)}{example}")
    targets = list(spec.targets) if spec.targets else list(features)
    in_features = set(features)
    columns = features + [t for t in targets if t not in in_features]
    have = set(chunk.columns)
    missing_cols = [c for c in columns if c not in have]
    if missing_cols:
        raise DataError(f"{path}: column(s) {_cols(missing_cols)} not found (needed as "
                        f"features/targets); columns are {_cols(chunk.columns)}"
                        + _did_you_mean(missing_cols, chunk.columns))
    clash = [c for c in columns if c in skip]
    if clash:
        raise DataError(f"{path}: column(s) {_cols(clash)} are the time/series column and cannot "
                        "also be features or targets")
    return features, targets, columns
