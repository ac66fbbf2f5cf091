"""CSV -> Frame: one canonical, typed view of the series in a file.

Two layouts are read:

* wide: an optional time column plus numeric columns, one series;
* long: a series-id column (`unique_id` by default), a time column (`ds`) and value
  columns, several series stacked (the `unique_id, ds, y` convention); under other names
  the two are recognised from the values (`recognise`: `store, day, revenue`).

The rows are staged chunk by chunk as they are read (staging.py); then, series by series
(per_series.py), each is sorted by time, its frequency inferred through gaps (timegrid.py),
and its missing time stamps become rows of missing values for data.missing to refuse, fill
or drop (`Gaps`).

Everything downstream sees a `Frame`: per series, a time index and a float64 array of
shape (rows, columns) whose columns are the features followed by any targets that are
not features. Problems are raised as `DataError` naming the file, column and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.config import DataSpec
from lstmcli.data.cells import (
    MAX_STEP,
    TIME_MAX,
    TIME_RANGE,
    _choose_columns,
    _numeric_columns,
    _parse_time,
)
from lstmcli.data.csvfile import _chunks, _col, _cols, _count_lines, _line, read_header
from lstmcli.data.per_series import store_series
from lstmcli.data.recognition import recognise
from lstmcli.data.store import Series, SeriesStore
from lstmcli.errors import DataError

DEFAULT_SERIES_ID = "series_0"
INDEX_TIME_NAME = "t"  # name of the step counter when the file has no time column


@dataclass(frozen=True)
class Frame:
    path: str
    store: SeriesStore  # every series' rows: (rows, len(columns)) float64 and time stamps
    features: list[str]
    targets: list[str]
    time_col: str | None  # None: rows are steps 0, 1, 2, ...
    series_col: str | None  # None: wide format, one series
    freq: str | int | None  # pandas alias, an integer step, or None if irregular
    notes: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)  # calendar columns, not in the file
    # data.future columns, stored one step ahead: row t holds the value of step t + 1 (the
    # step a window ending at t predicts); the last row repeats its own value until a
    # forecast fills in the first future step's
    ahead: list[str] = field(default_factory=list)

    # Computed once per frame (a frame is never changed in place: `replace` makes a new
    # one): a file may have 10,000 columns. Do not modify the lists they return.
    @cached_property
    def series(self) -> list[Series]:
        """Each series' view of the store: `id`, `ds` (a DatetimeIndex, or integer steps
        when the file has no time stamps), `values` (rows, columns)."""
        return self.store.series()

    @cached_property
    def columns(self) -> list[str]:
        features = set(self.features)
        return self.features + [t for t in self.targets if t not in features]

    @cached_property
    def column_index(self) -> dict[str, int]:
        """Each column's place in `columns` (and in each series' values)."""
        return {c: j for j, c in enumerate(self.columns)}

    @cached_property
    def feature_idx(self) -> list[int]:
        return [self.column_index[c] for c in self.features]

    @cached_property
    def target_idx(self) -> list[int]:
        return [self.column_index[c] for c in self.targets]

    @property
    def is_long(self) -> bool:
        return self.series_col is not None


def read_series(path: str | Path, spec: DataSpec, *, fallback_freq: str | int | None = None,
                store_dir: Path | None = None) -> Frame:
    """Read a CSV into a Frame according to the `data:` section of the config.

    `fallback_freq` (the frequency a model was trained on) is used when the file is too
    short or irregular for the frequency to be inferred. `store_dir`: keep the series
    store in files there (data.stream) instead of in memory; the same code reads both.
    """
    from lstmcli.data.staging import Staging

    path = Path(path)
    header = read_header(path)
    notes: list[str] = []
    keys = recognise(header, spec, path)
    time_col, series_col = keys.time, keys.series
    skip = {c for c in (time_col, series_col) if c}
    features = targets = columns = staging = None
    id_codes: dict[str, int] = {}
    n_max, pos = (_count_lines(path) if store_dir is None else None), 0
    # Chunk by chunk into the staging rows (pre-sized arrays, or files): millions of
    # timestamp strings never exist at once and no concatenated copy is made.
    # series ids stay text as written: "007" and "7" are two series
    as_text = {header.index(series_col): str} if series_col is not None else None
    try:
        for chunk in _chunks(path, converters=as_text):
            chunk.columns = header
            if chunk.empty:
                continue
            if columns is None:
                features, targets, columns = _choose_columns(chunk, spec, skip, path, notes)
                staging = Staging(len(columns), n_max=n_max, directory=None if store_dir
                                  is None else store_dir / "staging")
            values = _numeric_columns(chunk, columns, path)
            t = codes = None
            if time_col is not None:
                t = _parse_time(chunk[time_col], time_col, path).to_numpy()  # int64 or ns
                if staging.times_kind is not None and t.dtype.kind != staging.times_kind:
                    raise DataError(f"{path}: line {_line(pos)}: column {_col(time_col)} mixes "
                                    "step numbers and dates")
            if series_col is not None:
                ids = chunk[series_col]
                missing = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
                if missing.any():
                    raise DataError(f"{path}: line {_line(pos + int(missing.argmax()))}: empty "
                                    f"series id in column {_col(series_col)}")
                local, names = pd.factorize(ids.astype(str))  # in order of appearance
                codes = np.array([id_codes.setdefault(str(name), len(id_codes))
                                  for name in names], dtype="int64")[local]
            staging.add(values, t, codes)
            pos += len(chunk)
        if pos == 0:
            raise DataError(f"{path}: the file has a header but no data rows")
        staging.finish()
        groups = list(id_codes.items()) if series_col is not None else [(DEFAULT_SERIES_ID, 0)]
        store, freq = store_series(path, spec, staging, keys, groups, columns, notes,
                                   fallback_freq, store_dir=store_dir)
        frame = Frame(path=str(path), store=store, features=features, targets=targets,
                      time_col=time_col, series_col=series_col, freq=freq, notes=notes)
    finally:
        if staging is not None:
            staging.close()
    if spec.future:
        frame = with_future(frame, spec.future)
    return with_calendar(frame, spec.calendar) if spec.calendar else frame

def with_future(frame: Frame, columns: list[str]) -> Frame:
    """Covariates known ahead, aligned with the step being predicted (see Frame.ahead)."""
    from lstmcli.data.store import mapped

    wrong = [c for c in columns if c not in frame.features or c in frame.targets]
    if wrong:
        raise DataError(f"{frame.path}: data.future {_cols(wrong)} must be input columns "
                        "(data.features) that are not targets")
    k = [frame.column_index[c] for c in columns]

    def ahead(s) -> np.ndarray:
        values = np.array(s.values)
        values[:-1, k] = values[1:, k]
        return values

    return replace(frame, store=mapped(frame.store, ahead, len(frame.columns)),
                   ahead=list(columns))


def with_calendar(frame: Frame, names: list[str]) -> Frame:
    """The frame with calendar feature columns (see calendar.py) after the other features."""
    from lstmcli.data import calendar
    from lstmcli.data.store import mapped

    if frame.store.kind != "M" or frame.time_col is None:
        raise DataError(f"{frame.path}: data.calendar needs timestamps, but the time column "
                        f"{frame.time_col!r} holds step numbers (or there is none)")
    added = calendar.column_names(names)
    clash = [c for c in added if c in frame.column_index]
    if clash:
        raise DataError(f"{frame.path}: column(s) {_cols(clash)} exist already; data.calendar "
                        "would add them; rename them in the file")
    k = len(frame.features)

    def with_columns(s) -> np.ndarray:
        v = s.values
        return np.concatenate([v[:, :k], calendar.features(s.ds, names), v[:, k:]], axis=1)

    store = mapped(frame.store, with_columns, len(frame.columns) + len(added))
    return replace(frame, store=store, features=frame.features + added, derived=added)


def future_index(last: object, freq: str | int, steps: int) -> pd.Index:
    """The `steps` timestamps after `last`, continuing `freq`: integer steps within
    +-MAX_STEP, or datetime64[ns] stamps within TIME_MIN..TIME_MAX (else a DataError: they
    would wrap around)."""
    if isinstance(freq, int):
        end = int(last) + freq * int(steps)  # Python ints: no overflow here
        if abs(end) >= MAX_STEP:
            raise DataError(f"cannot number {steps} forecast step(s) after step {int(last)} "
                            f"(every {freq}): step {end} would be beyond ±{MAX_STEP} (2**62) "
                            "and could overflow 64-bit integers; renumber the time column "
                            "(e.g. from 0), or forecast fewer steps")
        return pd.Index(int(last) + freq * np.arange(1, steps + 1, dtype="int64"))
    try:
        stamps = pd.date_range(start=last, periods=steps + 1, freq=freq)[1:]
        return stamps.as_unit("ns")
    except pd.errors.OutOfBoundsDatetime:
        raise DataError(f"cannot stamp {steps} forecast step(s) of {freq!r} after {last}: they "
                        f"would run past {TIME_MAX:%Y-%m-%d %H:%M:%S}, the last supported "
                        f"timestamp (range {TIME_RANGE}); forecast fewer steps, or use step "
                        "numbers") from None
    except ValueError as exc:
        raise DataError(f"invalid frequency {freq!r} (data.freq): {exc}") from None
