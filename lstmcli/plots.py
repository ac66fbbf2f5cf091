"""Forecast pictures (`--plot FILE.png`): one row of panels per series, one column per
target, each panel with its own time axis (dates labelled on every panel): the history's
tail, the forecast, its prediction intervals and, where known, the truth and the baselines.

By default the first MAX_PANELS series are drawn, with a note naming them and counting the
others; `--plot-series ID[,ID...]` chooses. Interval bands cover every step that has bounds;
a band that stops before the forecast does ends at a dotted line (and a note says so), and
the step where calibrated intervals end (later widths are extrapolated) is marked. One
legend, below the panels, keeps the data clear.

matplotlib runs with its non-interactive Agg backend (no display needed: cron, CI) and is
imported only when a plot is asked for. The PNG is written atomically.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.errors import DataError, listed
from lstmcli.runs.files import write_atomic

MAX_PANELS = 4  # series drawn when --plot-series does not choose
ALPHAS = {80: 0.32, 95: 0.16}  # the inner band darker


@dataclass
class Panel:
    """One series and one target: what to draw. Arrays are (steps,)."""

    title: str
    history_ds: pd.Index
    history: np.ndarray
    forecast_ds: pd.Index
    forecasts: dict[str, np.ndarray]  # label -> values; the first is drawn boldest
    truth: np.ndarray | None = None
    bands: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)  # level, lo, hi
    ylabel: str = ""
    calibrated: int | None = None  # steps with calibrated intervals (later: extrapolated)


@dataclass
class Plot:
    """A figure: rows of panels (one row per series, one panel per target)."""

    rows: list[list[Panel]]
    title: str
    xlabel: str
    notes: list[str] = field(default_factory=list)


def parse_series(values: list[str] | None) -> list[str] | None:
    """`--plot-series a,b --plot-series c` -> ['a', 'b', 'c'] (None when not given)."""
    if not values:
        return None
    got = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(got)) or None


def choose(ids: list[str], wanted: list[str] | None, *, source: str) -> tuple[list[str], list[str]]:
    """The series to draw, in the order asked (else the first MAX_PANELS), and the note
    naming them when some are left out. An ID that is not among `ids` is a DataError
    naming `source` (the data file)."""
    if wanted is not None:
        unknown = [w for w in wanted if w not in set(ids)]
        if unknown:
            known = listed([repr(i) for i in ids])
            raise DataError(f"{source}: --plot-series {unknown[0]!r}: no such series among "
                            f"the {len(ids)} forecast ({known}); give IDs from the series "
                            "column, separated by commas")
        chosen = wanted
    else:
        chosen = ids[:MAX_PANELS]
    left = len(ids) - len(chosen)
    if not left:
        return chosen, []
    names = ", ".join(repr(i) for i in chosen)
    return chosen, [f"plot: drew series {names}; {left} of the {len(ids)} series not drawn"
                    + ("" if wanted else " (choose with --plot-series ID[,ID...])")]


def _draw(ax, p: Panel, *, xlabel: str) -> list[str]:
    """One panel; returns notes (interval bands that stop early)."""
    import matplotlib.dates as mdates

    notes = []
    x = p.forecast_ds
    ax.plot(p.history_ds, p.history, color="0.35", lw=1.2, label="history")
    ends = []
    for level, lo, hi in sorted(p.bands, key=lambda b: -b[0]):  # widest first, under
        lo, hi = np.asarray(lo, dtype="float64"), np.asarray(hi, dtype="float64")
        has = np.isfinite(lo) & np.isfinite(hi)
        style = dict(color="tab:blue", alpha=ALPHAS.get(level, 0.2), lw=0,
                     label=f"{level}% interval")
        if has.sum() == 1 or len(x) == 1:  # a band of one step has no area: a bar
            ax.vlines(x[has], lo[has], hi[has], lw=6, **{k: v for k, v in style.items()
                                                         if k != "lw"})
        elif has.any():
            ax.fill_between(x, lo, hi, where=has, interpolate=False, **style)
        ends.append(int(np.flatnonzero(has)[-1]) + 1 if has.any() else 0)
    if ends and min(ends) < len(x):
        end = min(ends)
        if end:
            ax.axvline(x[end - 1], color="tab:blue", ls=":", lw=1.2,
                       label="no interval bounds after")
        notes.append(f"{p.title}: interval bounds for the first {end} of {len(x)} step(s) "
                     "only" + (" (the dotted line)" if end else ""))
    if p.bands and p.calibrated and p.calibrated < len(x) and (not ends or min(ends) >
                                                               p.calibrated):
        ax.axvline(x[p.calibrated - 1], color="0.45", ls="--", lw=0.9,
                   label="calibrated intervals end (later: extrapolated)")
    if p.truth is not None:
        ax.plot(x, p.truth, color="black", lw=1.2, marker=".", label="actual")
    styles = [dict(color="tab:blue", lw=2.0), dict(color="tab:orange", lw=1, ls="--"),
              dict(color="tab:green", lw=1, ls=":"), dict(color="tab:red", lw=1, ls="-.")]
    for (label, values), style in zip(p.forecasts.items(), styles, strict=False):
        ax.plot(x, values, label=label, **style)
    ax.set_title(p.title, fontsize=10, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(p.ylabel, fontsize=9)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    if isinstance(p.history_ds, pd.DatetimeIndex):  # each panel its own dates
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return notes


def figure(plot: Plot):
    """The matplotlib Figure of `plot` (Agg): panels with their own x ranges (no shared
    axis) and tick labels on each, one legend below them, off the data. Notes about bands
    that stop early are added to `plot.notes`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    nrows, ncols = len(plot.rows), max(len(r) for r in plot.rows)
    fig = Figure(figsize=(10 if ncols == 1 else 6 * ncols, 2.7 * nrows + 1.3),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)  # sharex=False: ranges differ
    handles: dict[str, object] = {}
    for row, panels in zip(axes, plot.rows, strict=True):
        for ax, p in zip(row, panels, strict=False):
            plot.notes += [n for n in _draw(ax, p, xlabel=plot.xlabel) if n not in plot.notes]
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, h)
        for ax in row[len(panels):]:
            ax.set_visible(False)
    fig.suptitle(plot.title, fontsize=11)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncols=min(len(handles), 4), fontsize=8, frameon=False)
    return fig


def save(plot: Plot, path: str | Path) -> int:
    """Draw `plot` into a PNG at `path`; returns the number of panels."""
    fig = figure(plot)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    with write_atomic(path, binary=True) as fh:
        fh.write(buf.getvalue())
    return sum(len(r) for r in plot.rows)

def tail(ds: pd.Index, values: np.ndarray, steps: int) -> tuple[pd.Index, np.ndarray]:
    return ds[-steps:], values[-steps:]


def _title(sid: str, target: str, *, long: bool, targets: int) -> str:
    if not long:
        return target
    return sid if targets == 1 else f"{sid}: {target}"


def rollout_plot(frame, table: pd.DataFrame, *, horizon: int, series: list[str] | None = None,
                 calibrated: int | None = None) -> Plot:
    """`rollout --plot`: for each chosen series and every target, the history's tail, the
    forecast and its prediction intervals. calibrated: the run's calibrated interval steps."""
    from lstmcli.data.read import INDEX_TIME_NAME
    from lstmcli.forecast.intervals import LEVELS

    groups = ({frame.series[0].id: table} if frame.series_col is None else
              {str(i): g for i, g in table.groupby(frame.series_col, sort=False)})
    by_id = {s.id: s for s in frame.series if s.id in groups}
    chosen, notes = choose(list(by_id), series, source=frame.path)
    rows = []
    for sid in chosen:
        s, part, row = by_id[sid], groups[sid], []
        for target in frame.targets:
            ds, hist = tail(s.ds, s.values[:, frame.column_index[target]],
                            max(4 * horizon, 24))
            bands = [(level, part[f"{target}_lo_{level}"].to_numpy(),
                      part[f"{target}_hi_{level}"].to_numpy()) for level in LEVELS
                     if f"{target}_lo_{level}" in part and f"{target}_hi_{level}" in part]
            row.append(Panel(title=_title(sid, target, long=frame.is_long,
                                          targets=len(frame.targets)),
                             history_ds=ds, history=hist,
                             forecast_ds=pd.Index(part[frame.time_col or INDEX_TIME_NAME]),
                             forecasts={"lstm rollout": part[f"{target}_forecast"].to_numpy()},
                             bands=bands, ylabel=target, calibrated=calibrated))
        rows.append(row)
    return Plot(rows, title=f"lstmcli rollout: {horizon} steps",
                xlabel=frame.time_col or INDEX_TIME_NAME, notes=notes)


def results_plot(results, *, title: str, targets: list[str], source: str,
                 series: list[str] | None = None, calibrated: int | None = None) -> Plot:
    """backtest / evaluate --plot: the last origin of each chosen series, every target
    (history tail, truth, the model and the baselines, the model's intervals). source: the
    data file, for the error an unknown --plot-series gets."""
    from lstmcli.data.read import DEFAULT_SERIES_ID

    last = {r.series: r for r in results}  # the last origin of each series
    chosen, notes = choose(list(last), series, source=source)
    long = list(last) != [DEFAULT_SERIES_ID]
    rows = []
    for sid in chosen:
        r, row = last[sid], []
        for k, target in enumerate(targets):
            ds, history = tail(r.history_ds, r.history[:, k], max(4 * len(r.truth), 24))
            row.append(Panel(title=_title(sid, target, long=long, targets=len(targets)),
                             history_ds=ds, history=history, forecast_ds=r.stamps,
                             forecasts={m: v[:, k] for m, v in r.preds.items()},
                             truth=r.truth[:, k], ylabel=target, calibrated=calibrated,
                             bands=[(level, lo[:, k], hi[:, k])
                                    for level, (lo, hi) in r.bands.items()]))
        rows.append(row)
    xlabel = (results[-1].stamps.name if results else None) or "time"
    return Plot(rows, title=title, xlabel=xlabel, notes=notes)
