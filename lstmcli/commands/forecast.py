"""The `predict` and `rollout` commands: a trained run's forecasts for a CSV, in original
units with real time stamps, as a table (stdout, --out CSV or the JSON summary); rollout
also draws them (--plot).

cli.py registers them with `_command`, so their errors become exit codes there like every
other command's; their docstrings are their help.
"""

from pathlib import Path
from typing import Annotated

import typer

from lstmcli.commands.options import (
    MAX_STEPS,
    DataArg,
    DebugOpt,
    JsonOpt,
    LogOpt,
    ModelOpt,
    PlotSeriesOpt,
    QuietOpt,
    WaitOpt,
    require_file,
    series_to_plot,
)
from lstmcli.commands.outputs import emit_table, show_notes
from lstmcli.console import Output


def predict(
    data: DataArg,
    model: ModelOpt,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="CSV file to write "
                                                  "(default: stdout).")] = None,
    last: Annotated[bool, typer.Option("--last", help="Only forecast the horizon after the "
                                       "last window of each series.")] = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    log_file: LogOpt = None,
    wait: WaitOpt = False,
    *,
    out: Output,
) -> None:
    """Predict the targets for every window of a CSV, in original units.

    Each row is the prediction for one time stamp, next to the actual value.
    With --last, only the horizon after the end of each series is forecast.

    \b
    Example:
        lstmcli predict sample_data/airline_passengers.csv -m runs/air -o preds.csv
    """
    from lstmcli import api

    require_file(data, "data file")
    out.status("predicting…")
    table, summary = api.predict(data, model, last=last)
    show_notes(out, summary)
    emit_table(out, table, summary, out_path)


def rollout(
    data: DataArg,
    model: ModelOpt,
    horizon: Annotated[int, typer.Option(
        "--horizon", "-H", min=1, max=MAX_STEPS, help="Steps to forecast "
                                         "past the end of each series.", show_default=False)],
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="CSV file to write "
                                                  "(default: stdout).")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw the history tail, "
                                              "forecast and intervals of the first 4 series, "
                                              "or of --plot-series, every target, into this "
                                              "PNG.", show_default=False)] = None,
    plot_series: PlotSeriesOpt = None,
    future: Annotated[Path | None, typer.Option("--future", help="CSV with the covariate "
                                                "inputs (columns that are not targets) for "
                                                "every forecast step, same time/series "
                                                "columns as DATA.csv.",
                                                show_default=False)] = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    log_file: LogOpt = None,
    wait: WaitOpt = False,
    *,
    out: Output,
) -> None:
    """Forecast H steps past the end of each series, feeding each prediction back in.

    Future rows carry real time stamps continuing the series' frequency.

    \b
    Example:
        lstmcli rollout sample_data/airline_passengers.csv -m runs/air -H 24 -o forecast.csv
    """
    from lstmcli import api

    require_file(data, "data file")
    if future is not None:
        require_file(future, "--future file")
    wanted = series_to_plot(plot, plot_series)
    out.status(f"forecasting {horizon} step(s)…")
    history = []  # the data the forecast started from, for the plot
    table, summary = api.rollout(data, model, horizon=horizon, future=future,
                                 on_frame=history.append if plot is not None else None)
    if plot is not None:
        out.status(f"drawing {plot.name}…")
        from lstmcli.plots import rollout_plot, save
        from lstmcli.runs.bundle import calibrated_steps

        drawn = rollout_plot(history[0], table, horizon=horizon, series=wanted,
                             calibrated=calibrated_steps(model))
        save(drawn, plot)
        summary["plot"] = str(plot)
        summary["notes"] += drawn.notes
    out.stop_live()
    show_notes(out, summary)
    if plot is not None and not json_out:
        out.info(f"wrote {plot}")
    emit_table(out, table, summary, out_path)

