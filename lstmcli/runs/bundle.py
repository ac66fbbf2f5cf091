"""RUN_DIR: the saved model and everything needed to use it again. No pickle.

    RUN_DIR/
      model.keras    Keras 3 native format, loaded with safe_mode=True
      bundle.json    format_version, package versions, resolved config, column names,
                     scaler parameters, frequency, last timestamp per series, value ranges,
                     training summary
      history.csv    one row per epoch
      config.yaml    the resolved config, to edit and reuse (bundle.json's, with data.freq
                     the frequency the run used)

A run directory is written next to its final place and renamed into it, so a crash
leaves either the old directory or the new one, never half of one.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from lstmcli.models.backend import import_keras
from lstmcli.config import Config, config_from_dict, format_loc
from lstmcli.errors import BundleError, ConfigError
from lstmcli.runs.files import replace_dir
from lstmcli.data.scaling import Scaler

FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
META_FILE = "bundle.json"
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.yaml"


@dataclass
class Bundle:
    path: Path
    model: object  # keras.Model
    meta: dict
    config: Config
    scaler: Scaler


def check_writable(run_dir: Path, *, force: bool) -> None:
    """Fail before any work if RUN_DIR cannot be (re)placed."""
    if run_dir.exists() and not run_dir.is_dir():
        raise BundleError(f"{run_dir}: exists and is not a directory")
    if run_dir.exists() and not force:
        raise BundleError(f"{run_dir}: already exists; pass --force to replace it")


def _write_history(path: Path, history: list[dict]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)


def save_bundle(run_dir: str | Path, *, model, meta: dict, history: list[dict],
                force: bool, staging: Path | None = None, reuse: dict | None = None) -> Path:
    """Write the run into `staging` (default: a new temporary sibling of RUN_DIR), then
    rename it to RUN_DIR; a previous RUN_DIR is swapped out only after that succeeds.
    reuse: the config config.yaml shows (default: bundle.json's, meta["config"])."""
    run_dir = Path(run_dir)
    check_writable(run_dir, force=force)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    if staging is None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.tmp-", dir=run_dir.parent))
    else:
        tmp = staging
        tmp.mkdir(parents=True, exist_ok=True)
    try:
        model.save(tmp / MODEL_FILE)
        (tmp / META_FILE).write_text(json.dumps({"format_version": FORMAT_VERSION, **meta},
                                                indent=2) + "\n")
        _write_history(tmp / HISTORY_FILE, history)
        (tmp / CONFIG_FILE).write_text(
            "# The resolved config of this run: edit and reuse with --config.\n"
            + yaml.safe_dump(reuse or meta["config"], sort_keys=False))
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)  # the run is complete
        replace_dir(tmp, run_dir)
    finally:
        if staging is None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return run_dir


# ------------------------------------------------------------------ reading a run directory
#
# bundle.json is checked as a whole before anything in it is used: a scaler edited to 0, NaN
# or the wrong length, or a file nested a hundred thousand levels deep, is a BundleError
# naming the key, never a garbage forecast or a traceback.

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


def _parse(meta_path: Path) -> dict:
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


def read_meta(run_dir: str | Path) -> tuple[Config, dict]:
    """The config and bundle.json of a run, checked, without loading the model (or
    TensorFlow). The dict is bundle.json as written; every part lstmcli reads from it
    (config, scaler, freq, last_ds, intervals, ranges, training) has been checked
    (`BundleMeta`)."""
    config, meta, _ = _read(run_dir)
    return config, meta


def _read(run_dir: str | Path) -> tuple[Config, dict, BundleMeta]:
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise BundleError(f"{run_dir}: is a file, not a run directory (give the directory "
                          "`lstmcli train --out` wrote)")
    if not run_dir.is_dir():
        raise BundleError(f"{run_dir}: run directory not found (make one with `lstmcli train`)")
    meta_path, model_path = run_dir / META_FILE, run_dir / MODEL_FILE
    for p in (meta_path, model_path):
        if not p.is_file():
            raise BundleError(f"{run_dir}: not a complete run directory ({p.name} is missing)")
    meta = _parse(meta_path)
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
    return config, meta, parsed


def load_bundle(run_dir: str | Path) -> Bundle:
    run_dir = Path(run_dir)
    config, meta, parsed = _read(run_dir)
    model_path = run_dir / MODEL_FILE
    scaler = Scaler.from_dict(parsed.scaler.model_dump())
    if not zipfile.is_zipfile(model_path):
        raise BundleError(f"{model_path}: not a Keras model file (empty, truncated or not a "
                          "zip archive); retrain with `lstmcli train`")
    keras = import_keras()
    from lstmcli.models.topology import custom_layers

    custom_layers()  # lstmcli's own layers, found by their registered names
    try:
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad bundle
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{model_path}: cannot load model ({first})") from None
    _check_inputs(model, config, model_path)
    return Bundle(path=run_dir, model=model, meta=meta, config=config, scaler=scaler)


def _shape(tensors, what: str, model_path: Path) -> tuple:
    """The one (batch, time, columns) shape of a model's inputs or outputs."""
    if len(tensors) != 1 or len(tensors[0].shape) != 3:
        shapes = [tuple(t.shape) for t in tensors]
        raise BundleError(f"{model_path}: the model has {what} {shapes}, not one (batch, time, "
                          "columns) tensor as lstmcli builds; retrain with `lstmcli train`")
    return tuple(tensors[0].shape)


def _check_inputs(model, config: Config, model_path: Path) -> None:
    """The model must read windows of as many time steps and features as bundle.json says
    (and emit its targets), or the files come from different runs.

    Time steps: `window.look_back`, except for models with a free time axis (many_to_many,
    stateful, variable-length: None). The batch axis is not compared (stateful models fix it
    to training.batch_size)."""
    def mismatch(what: str) -> BundleError:
        return BundleError(f"{model_path}: {what}; the files come from different runs: "
                           "retrain with `lstmcli train`")

    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except Exception:  # noqa: BLE001 - a model that was never called on an input
        raise mismatch("the model has no defined inputs") from None
    _, steps, got = _shape(inputs, "inputs", model_path)
    data = config.data
    want = len(data.features or []) + 2 * len(data.calendar)
    if want and got is not None and got != want:
        raise mismatch(f"the model reads {got} feature(s) but bundle.json lists {want} "
                       f"({data.features}, calendar {data.calendar})")
    free = config.stateful or config.per_step
    look_back = None if free else config.window.look_back
    if steps != look_back:
        model_says = "any number of" if steps is None else str(steps)
        config_says = ("a free time axis (model.topology many_to_many or training.mode "
                       "stateful)" if look_back is None else f"window.look_back {look_back}")
        raise mismatch(f"the model reads windows of {model_says} time step(s) but bundle.json "
                       f"says {config_says}")
    _, out_steps, out_cols = _shape(outputs, "outputs", model_path)
    targets = len(data.targets or [])
    if targets and out_cols is not None and out_cols != targets:
        raise mismatch(f"the model predicts {out_cols} target(s) but bundle.json lists "
                       f"{targets} ({data.targets})")
    if not free and out_steps != config.window.horizon:
        raise mismatch(f"the model predicts {out_steps} step(s) but bundle.json says "
                       f"window.horizon {config.window.horizon}")
