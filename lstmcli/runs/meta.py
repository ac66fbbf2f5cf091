"""bundle.json, the description of a run, checked as a whole before anything in it is used.

A scaler edited to 0, NaN or the wrong length, or a file nested a hundred thousand levels
deep, is a BundleError naming the key, never a garbage forecast or a traceback:
`parse_meta` reads the file within bounds, `check_meta` checks its format version, its
config, its types (`BundleMeta`, a pydantic model) and that its parts fit together.
bundle.py reads and writes the rest of the run directory.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from lstmcli.config import Config, config_from_dict, format_loc
from lstmcli.errors import BundleError, ConfigError

FORMAT_VERSION = 1
MAX_META_BYTES = 1 << 30  # far beyond a bundle lstmcli writes (a scaler per series included)
MAX_DEPTH = 64  # bundle.json nests about 6 levels deep


def _bad(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _number(value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad("bundle_number", "must be a number")
    try:
        out = float(value)
    except OverflowError:  # an integer of 400 digits
        out = math.inf
    if not math.isfinite(out) or (positive and out <= 0):
        raise _bad("bundle_number", "must be a finite number > 0" if positive
                   else "must be a finite number")
    return out


def _optional_number(value: Any) -> float | None:
    return None if value is None else _number(value)  # None: no interval at that step


def _freq(value: Any) -> str | int | None:
    """A pandas frequency alias, an integer step (time column of step numbers), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _bad("bundle_freq", "must be a pandas frequency alias, a step number or null")
    if isinstance(value, int):
        if value < 1:
            raise _bad("bundle_freq", "must be a step >= 1")
        return value
    from pandas.tseries.frequencies import to_offset

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            to_offset(value)
    except (ValueError, TypeError):
        raise _bad("bundle_freq", "is not a pandas frequency alias") from None
    return value


def _stamp(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _bad("bundle_stamp", "must be an ISO time stamp or a step number")
    return value


Number = Annotated[float, PlainValidator(_number)]
Scale = Annotated[float, PlainValidator(partial(_number, positive=True))]
OptionalNumber = Annotated[float | None, PlainValidator(_optional_number)]
Freq = Annotated[str | int | None, PlainValidator(_freq)]
Stamp = Annotated[str | int, PlainValidator(_stamp)]


class _Part(BaseModel):
    # strict: "scale": ["2"] is an edit, not 2; unknown keys are kept (bundles carry
    # versions, timings and whatever later lstmcli versions add)
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class ScalerParams(_Part):
    """y = (x - shift) / scale, one value per column."""

    shift: list[Number]
    scale: list[Scale]


class ScalerMeta(ScalerParams):
    kind: str  # one of data.scaling's kinds: must equal the config's (checked after)
    columns: list[str] = Field(min_length=1)
    series: dict[str, ScalerParams] = {}  # data.scale_per_series: each series' own


class IntervalsMeta(_Part):
    """Conformal offsets (see intervals.py): per level, a (horizon, targets) table."""

    levels: list[Annotated[int, Field(gt=0, lt=100)]] = Field(min_length=1)
    horizon: int = Field(gt=0)
    lo: dict[str, list[list[OptionalNumber]]]
    hi: dict[str, list[list[OptionalNumber]]]
    # what the offsets are multiplied by per series (intervals.unit_of): "level_spread"
    # (√(its scaler's scale · its mean absolute `season`-step difference)), "scaled" (its
    # scaler's scale, earlier runs) or absent (original units, the oldest runs)
    units: Literal["level_spread", "scaled"] | None = None
    season: int | None = Field(default=None, gt=0)


class RangeParams(_Part):
    """The smallest and largest value of each column in the rows training read."""

    min: list[Number]
    max: list[Number]


class RangesMeta(RangeParams):
    """What `predict`, `rollout` and `evaluate` compare new data with (datacheck.py)."""

    columns: list[str] = Field(min_length=1)
    series: dict[str, RangeParams] = {}  # data.scale_per_series: each series' own


class BundleMeta(_Part):
    """bundle.json: the parts lstmcli reads back (others are kept as they are)."""

    format_version: int
    config: Config
    columns: list[str] | None = None
    freq: Freq = None
    last_ds: dict[str, Stamp] = {}
    scaler: ScalerMeta
    training: dict[str, Any] = {}
    intervals: IntervalsMeta | None = None
    ranges: RangesMeta | None = None  # absent in runs from before lstmcli recorded them


def _depth_over(doc: Any, limit: int) -> bool:
    """Whether `doc` nests lists/objects deeper than `limit` (iteratively: no recursion)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse_meta(meta_path: Path) -> dict:
    """bundle.json as a dict, read within bounds (size, nesting), or a BundleError."""
    try:
        size = meta_path.stat().st_size
        if size > MAX_META_BYTES:
            raise BundleError(f"{meta_path}: {size} bytes, larger than any run description "
                              f"lstmcli writes (at most {MAX_META_BYTES >> 20} MiB); retrain "
                              "with `lstmcli train`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except RecursionError:  # json's C parser recurses once per level
        meta = None
    except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError, huge ints
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{meta_path}: unreadable ({first})") from None
    if meta is None or _depth_over(meta, MAX_DEPTH):
        raise BundleError(f"{meta_path}: invalid bundle (nested deeper than {MAX_DEPTH} "
                          "levels); retrain with `lstmcli train`")
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: not a run description (a JSON object was expected); "
                          "retrain with `lstmcli train`")
    return meta


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = format_loc(tuple(err["loc"]))
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    msg = err["msg"].replace("Input should be", "must be")
    if err["type"] in ("value_error", "assertion_error"):
        msg = str(err.get("ctx", {}).get("error", msg))
    received = repr(err.get("input"))
    if len(received) > 60:
        received = f"{received[:60]}... ({len(received)} characters)"
    more = len(exc.errors()) - 1
    return f"{where}: {msg}. Received: {received}" + (f"; and {more} more" if more else "")


def _consistent(meta: BundleMeta) -> str | None:
    """What does not fit together in a parsed bundle.json (None: all of it does)."""
    from lstmcli.data.calendar import column_names

    cfg, sc = meta.config, meta.scaler
    n = len(sc.columns)
    if len(set(sc.columns)) != n:
        return f"scaler.columns: a column is listed twice. Received: {sc.columns}"
    for where, params in [("scaler", sc), *((f"scaler.series[{sid!r}]", p)
                                            for sid, p in sc.series.items())]:
        for key in ("shift", "scale"):
            got = len(getattr(params, key))
            if got != n:
                return (f"{where}.{key}: {got} value(s) for the {n} column(s) of "
                        f"scaler.columns {sc.columns}")
    if sc.kind != cfg.data.scaling:
        return f"scaler.kind: {sc.kind!r} but config.data.scaling is {cfg.data.scaling!r}"
    if sc.series and not cfg.data.scale_per_series:
        return "scaler.series: per-series parameters, but config.data.scale_per_series is false"
    features, targets = cfg.data.features, cfg.data.targets
    if features is not None and targets is not None:
        inputs = list(features) + column_names(cfg.data.calendar)
        want = inputs + [t for t in targets if t not in inputs]
        if sc.columns != want:
            return (f"scaler.columns: {sc.columns}, but the config's features, calendar and "
                    f"targets make {want}")
    if meta.columns is not None and meta.columns != sc.columns:
        return f"columns: {meta.columns}, but scaler.columns is {sc.columns}"
    stamps = [v for v in meta.last_ds.values() if isinstance(v, str)]
    if stamps:
        import pandas as pd

        parsed = pd.to_datetime(pd.Series(stamps), errors="coerce", format="ISO8601")
        if parsed.isna().any():
            bad = next(s for s, p in zip(stamps, parsed.isna(), strict=True) if p)
            sid = next(k for k, v in meta.last_ds.items() if v == bad)
            return f"last_ds[{sid!r}]: not an ISO time stamp. Received: {bad[:60]!r}"
    if meta.ranges is not None:
        problem = _ranges_consistent(meta.ranges, sc.columns)
        if problem:
            return problem
    if meta.intervals is not None:
        return _intervals_consistent(meta.intervals, targets)
    return None


def _ranges_consistent(rg: RangesMeta, columns: list[str]) -> str | None:
    unknown = [c for c in rg.columns if c not in columns]
    if unknown or len(set(rg.columns)) != len(rg.columns):
        return (f"ranges.columns: {rg.columns} must be distinct columns of scaler.columns "
                f"{columns}")
    n = len(rg.columns)
    for where, part in [("ranges", rg), *((f"ranges.series[{sid!r}]", p)
                                          for sid, p in rg.series.items())]:
        for key in ("min", "max"):
            got = len(getattr(part, key))
            if got != n:
                return f"{where}.{key}: {got} value(s) for the {n} column(s) of ranges.columns"
        if any(lo > hi for lo, hi in zip(part.min, part.max, strict=True)):
            return f"{where}: a min is larger than its max. Received: {part.min}, {part.max}"
    return None


def _intervals_consistent(iv: IntervalsMeta, targets: list[str] | None) -> str | None:
    if len(set(iv.levels)) != len(iv.levels):
        return f"intervals.levels: a level is listed twice. Received: {iv.levels}"
    for side in ("lo", "hi"):
        table = getattr(iv, side)
        for level in iv.levels:
            where = f"intervals.{side}[{str(level)!r}]"
            rows = table.get(str(level))
            if rows is None:
                return f"{where}: required key is missing (one per intervals.levels)"
            if len(rows) != iv.horizon:
                return f"{where}: {len(rows)} row(s) for intervals.horizon {iv.horizon}"
            width = len(targets) if targets is not None else len(rows[0])
            wrong = next((i for i, row in enumerate(rows) if len(row) != width), None)
            if wrong is not None:
                return (f"{where}[{wrong}]: {len(rows[wrong])} value(s) for {width} "
                        "target(s)")
    return None


def check_meta(meta: dict, meta_path: Path) -> tuple[Config, BundleMeta]:
    """The config of a parsed bundle.json and the parts lstmcli reads from it, checked
    (format version, config, `BundleMeta`, how they fit together), or a BundleError."""
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise BundleError(f"{meta_path}: format_version {version!r} is not supported by this "
                          f"lstmcli (expects {FORMAT_VERSION}); retrain with this version")

    def invalid(detail: str) -> BundleError:
        return BundleError(f"{meta_path}: invalid bundle ({detail}); retrain with "
                           "`lstmcli train`")

    if "config" not in meta:
        raise invalid("config: required key is missing")
    try:
        config = config_from_dict(meta["config"], source="config")
    except ConfigError as exc:
        raise invalid(str(exc)) from None
    try:
        parsed = BundleMeta.model_validate({**meta, "config": config})
    except ValidationError as exc:
        raise invalid(_first_error(exc)) from None
    problem = _consistent(parsed)
    if problem:
        raise invalid(problem)
    return config, parsed
