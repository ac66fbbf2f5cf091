"""--plot: the figures built by lstmcli/plots.py, checked on their axes (Agg, no display):
panels and their own date ranges and labels, every target, the series chosen and the note
about the others, the legend off the data, interval bands that stop early."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from lstmcli import plots
from lstmcli.errors import DataError
from lstmcli.evaluation.backtest import Forecasts

H = 6


def _results(n_series: int = 6, targets: int = 2) -> list[Forecasts]:
    """The last origin of n series; series k ends k weeks before series 0 (their panels'
    date ranges differ), two targets each."""
    rng = np.random.default_rng(0)
    out = []
    for k in range(n_series):
        end = pd.Timestamp("2024-06-30") - pd.Timedelta(weeks=k)
        ds = pd.date_range(end=end, periods=60, freq="D", name="date")
        history = rng.normal(10 + k, 1, (60 - H, targets))
        forecast = rng.normal(10 + k, 1, (H, targets))
        out.append(Forecasts(
            series=f"store_{k:02d}", origin=ds[-H], history=history, history_ds=ds[:-H],
            truth=rng.normal(10 + k, 1, (H, targets)), stamps=ds[-H:],
            preds={"lstm": forecast, "naive": np.repeat(history[-1:], H, axis=0)},
            bands={80: (forecast - 1, forecast + 1), 95: (forecast - 2, forecast + 2)}))
    return out


def _stamp(x) -> pd.Timestamp:
    """An x value as matplotlib keeps it (a date number or the stamp itself)."""
    if isinstance(x, (int, float, np.floating)):
        return pd.Timestamp(mdates.num2date(x)).tz_localize(None)
    return pd.Timestamp(x)


def _drawn(fig):
    fig.canvas.draw()
    return [ax for ax in fig.axes if ax.get_visible()]


def test_every_panel_has_its_own_dates_and_labels():
    results = _results()
    plot = plots.results_plot(results, title="t", targets=["sales", "visits"], source="d.csv")
    fig = plots.figure(plot)
    axes = _drawn(fig)
    assert len(axes) == 4 * 2  # the first 4 series x both targets
    for row, r in enumerate(results[:4]):
        for col, target in enumerate(["sales", "visits"]):
            ax = axes[2 * row + col]
            assert ax.get_shared_x_axes().get_siblings(ax) == [ax]  # no shared x axis
            assert ax.get_title(loc="left") == f"{r.series}: {target}"
            assert ax.get_xlabel() == "date" and ax.get_ylabel() == target
            lo, hi = (_stamp(v) for v in ax.get_xlim())
            # the panel's own range: history tail to the last forecast step (with margins)
            assert lo <= r.history_ds[-24] and hi >= r.stamps[-1]
            assert hi < r.stamps[-1] + pd.Timedelta(days=3)
            labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible()]
            assert sum(bool(t) for t in labels) >= 2, (r.series, labels)  # dates on each panel
    # store_01 ends a week before store_00: its panel ends a week earlier too
    ends = [axes[2 * k].get_xlim()[1] for k in range(2)]
    assert ends[0] - ends[1] == pytest.approx(7)


def test_one_legend_below_the_panels_off_the_data():
    fig = plots.figure(plots.results_plot(_results(3, 1), title="t", targets=["y"],
                                          source="d.csv"))
    axes = _drawn(fig)
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
    legend = fig.legends[0]
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in axes)
    assert box.y1 <= min(ax.get_window_extent().y0 for ax in axes)  # below them
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["history", "95% interval", "80% interval", "actual", "lstm", "naive"]


def test_series_chosen_in_order_and_a_note_on_the_others():
    results = _results()
    plot = plots.results_plot(results, title="t", targets=["sales", "visits"], source="d.csv")
    assert [row[0].title for row in plot.rows] == [f"store_0{k}: sales" for k in range(4)]
    assert plot.notes == ["plot: drew series 'store_00', 'store_01', 'store_02', 'store_03'; "
                          "2 of the 6 series not drawn (choose with --plot-series ID[,ID...])"]
    wanted = plots.parse_series(["store_05,store_01", "store_05"])
    assert wanted == ["store_05", "store_01"]
    plot = plots.results_plot(results, title="t", targets=["sales", "visits"], source="d.csv",
                              series=wanted)
    assert [row[1].title for row in plot.rows] == ["store_05: visits", "store_01: visits"]
    assert plot.notes[0].endswith("4 of the 6 series not drawn")
    with pytest.raises(DataError, match=r"^d\.csv: --plot-series 'store_9': no such series "
                       r"among the 6 forecast \('store_00', .* and 1 more\)"):
        plots.results_plot(results, title="t", targets=["sales"], source="d.csv",
                           series=["store_01", "store_9"])
    one = plots.results_plot(results[:1], title="t", targets=["sales", "visits"],
                             source="d.csv")
    assert one.notes == []  # all drawn: nothing to say


def test_a_band_that_stops_early_ends_at_a_marked_step():
    ds = pd.date_range("2024-01-01", periods=30, freq="D")
    lo, hi = np.arange(8.0), np.arange(8.0) + 2
    lo[5:] = hi[5:] = np.nan  # bounds for the first 5 of 8 steps
    panel = plots.Panel(title="s", history_ds=ds[:22], history=np.ones(22),
                        forecast_ds=ds[22:], forecasts={"lstm": np.arange(8.0) + 1},
                        bands=[(80, lo, hi)], ylabel="y", calibrated=3)
    plot = plots.Plot([[panel]], title="t", xlabel="date")
    ax = _drawn(plots.figure(plot))[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    end = lines["no interval bounds after"].get_xdata()[0]
    assert _stamp(end) == ds[22 + 4]  # the 5th step
    calibrated = lines["calibrated intervals end (later: extrapolated)"].get_xdata()[0]
    assert _stamp(calibrated) == ds[22 + 2]  # the 3rd step
    band = ax.collections[0].get_paths()[0].vertices[:, 0]
    assert band.max() == pytest.approx(mdates.date2num(ds[22 + 4]))  # no area past step 5
    assert plot.notes == ["s: interval bounds for the first 5 of 8 step(s) only (the dotted "
                          "line)"]


def test_the_end_of_calibrated_intervals_is_marked():
    ds = pd.RangeIndex(40)  # no time column: steps
    panel = plots.Panel(title="y", history_ds=ds[:30], history=np.ones(30),
                        forecast_ds=ds[30:], forecasts={"lstm": np.ones(10)},
                        bands=[(80, np.zeros(10), np.full(10, 2.0))], calibrated=4)
    ax = _drawn(plots.figure(plots.Plot([[panel]], title="t", xlabel="t")))[0]
    marks = [line for line in ax.get_lines()
             if line.get_label().startswith("calibrated intervals end")]
    assert len(marks) == 1 and marks[0].get_xdata()[0] == 33  # step 4


def test_rollout_plot_and_cli(cli, trained, tmp_path):
    """The CLI draws through the same functions; it says where the PNG went and which
    series it drew; --plot-series needs --plot and names existing series."""
    from lstmcli import api
    from lstmcli.data.read import read_series
    from lstmcli.runs.bundle import read_meta

    table, _ = api.rollout(trained["data"], trained["run"], horizon=12)
    config, meta = read_meta(trained["run"])
    frame = read_series(trained["data"], config.data)
    plot = plots.rollout_plot(frame, table, horizon=12,
                              calibrated=meta.intervals.horizon)
    ax = _drawn(plots.figure(plot))[0]
    assert ax.get_title(loc="left") == "y" and ax.get_xlabel() == "date"
    assert {c.get_label() for c in ax.collections} == {"80% interval", "95% interval"}
    assert plot.notes == []

    png = tmp_path / "f.png"
    result = cli("rollout", trained["data"], "-m", trained["run"], "-H", "3", "-o",
                 tmp_path / "f.csv", "--plot", png)
    assert f"wrote {png}\n" in result.stderr and png.read_bytes()[:4] == b"\x89PNG"
    assert "wrote" not in cli("rollout", trained["data"], "-m", trained["run"], "-H", "3",
                              "-o", tmp_path / "f.csv", "--plot", png, "-q").stderr
    result = cli("rollout", trained["data"], "-m", trained["run"], "-H", "3",
                 "--plot-series", "a", code=2)
    assert result.stderr == ("error: --plot-series chooses the series of --plot; give --plot "
                             "FILE.png too\n")
    png.unlink()
    result = cli("rollout", trained["data"], "-m", trained["run"], "-H", "3", "-o",
                 tmp_path / "g.csv", "--plot", png, "--plot-series", "nope", code=4)
    assert result.stderr.startswith(f"error: {trained['data']}: --plot-series 'nope': no "
                                    "such series among the 1 forecast")
    assert not png.exists() and not (tmp_path / "g.csv").exists()
