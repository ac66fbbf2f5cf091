"""Forecast pictures (`--plot FILE.png`): one panel per series for the first few series,
with the history's tail, the forecast and, where known, the truth and the baselines.

matplotlib runs with its non-interactive Agg backend (no display needed: cron, CI) and is
imported only when a plot is asked for. The PNG is written atomically.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.files import write_atomic

MAX_PANELS = 4


@dataclass
class Panel:
    """One series: what to draw. Arrays are (steps,) for one target."""

    title: str
    history_ds: pd.Index
    history: np.ndarray
    forecast_ds: pd.Index
    forecasts: dict[str, np.ndarray]  # label -> values; the first is drawn boldest
    truth: np.ndarray | None = None
    bands: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)


def save(panels: list[Panel], path: str | Path, *, title: str) -> int:
    """Draw up to MAX_PANELS panels into a PNG at `path`; returns the number drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels[:MAX_PANELS]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.8 * len(panels) + 0.6),
                             squeeze=False)
    for ax, p in zip(axes[:, 0], panels, strict=True):
        ax.plot(p.history_ds, p.history, color="0.35", lw=1.2, label="history")
        for (label, lo, hi), alpha in zip(p.bands, (0.18, 0.3, 0.42), strict=False):
            ax.fill_between(p.forecast_ds, lo, hi, color="tab:blue", alpha=alpha, lw=0,
                            label=label)
        if p.truth is not None:
            ax.plot(p.forecast_ds, p.truth, color="black", lw=1.2, marker=".", label="actual")
        styles = [dict(color="tab:blue", lw=2.0), dict(color="tab:orange", lw=1, ls="--"),
                  dict(color="tab:green", lw=1, ls=":")]
        for (label, values), style in zip(p.forecasts.items(), styles, strict=False):
            ax.plot(p.forecast_ds, values, label=label, **style)
        ax.set_title(p.title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", ncol=3)
    fig.suptitle(title, fontsize=11)
    if isinstance(panels[0].history_ds, pd.DatetimeIndex):
        fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    with write_atomic(path, binary=True) as fh:
        fh.write(buf.getvalue())
    return len(panels)


def tail(ds: pd.Index, values: np.ndarray, steps: int) -> tuple[pd.Index, np.ndarray]:
    return ds[-steps:], values[-steps:]


def rollout_plot(frame, table: pd.DataFrame, path: str | Path, *, horizon: int) -> int:
    """`rollout --plot`: each series' history tail, its forecast and its prediction
    intervals (first target)."""
    target = frame.targets[0]
    k = frame.columns.index(target)
    time_name = frame.time_col or "t"
    groups = ({frame.series[0].id: table} if frame.series_col is None else
              {str(i): g for i, g in table.groupby(frame.series_col, sort=False)})
    panels = []
    for s in frame.series[:MAX_PANELS]:
        part = groups.get(s.id)
        if part is None:
            continue
        ds, hist = tail(s.ds, s.values[:, k], max(4 * horizon, 24))
        bands = [(f"{level}% interval", part[f"{target}_lo_{level}"].to_numpy(),
                  part[f"{target}_hi_{level}"].to_numpy()) for level in (95, 80)
                 if f"{target}_lo_{level}" in part]
        panels.append(Panel(title=f"{s.id} ({target})", history_ds=ds, history=hist,
                            forecast_ds=pd.Index(part[time_name]),
                            forecasts={"lstm rollout": part[target].to_numpy()}, bands=bands))
    return save(panels, path, title=f"lstmcli rollout: {horizon} steps")


def results_plot(results, path: str | Path, *, title: str, target: str) -> int:
    """backtest / evaluate --plot: the last origin of each series (history tail, truth,
    the model and the baselines, the model's intervals)."""
    last = {r.series: r for r in results}  # the last origin of each series
    panels = []
    for r in last.values():
        ds, history = tail(r.history_ds, r.history[:, 0], max(4 * len(r.truth), 24))
        panels.append(Panel(title=f"{r.series} ({target})", history_ds=ds, history=history,
                            forecast_ds=r.stamps,
                            forecasts={k: v[:, 0] for k, v in r.preds.items()},
                            truth=r.truth[:, 0],
                            bands=[(f"{level}% interval", lo[:, 0], hi[:, 0])
                                   for level, (lo, hi) in sorted(r.bands.items(),
                                                                 reverse=True)]))
    return save(panels, path, title=title)
