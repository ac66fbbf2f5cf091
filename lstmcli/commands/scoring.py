"""The `backtest` and `evaluate` commands: forecasts scored against the data's own rows,
next to the Naive and Seasonal-Naive baselines, shown as a table, written as CSV (--out),
drawn as a PNG (--plot).

cli.py registers them with `_command`, so their errors become exit codes there like every
other command's; their docstrings are their help.
"""

from pathlib import Path
from typing import Annotated

import typer

from lstmcli.commands.options import (
    MAX_COUNT,
    MAX_STEPS,
    AutoConfigOpt,
    DataArg,
    DebugOpt,
    FreqOpt,
    IdColOpt,
    JsonOpt,
    LogOpt,
    MissingOpt,
    ModelOpt,
    PlotOpt,
    PlotSeriesOpt,
    QuietOpt,
    TargetOpt,
    TimeColOpt,
    WaitOpt,
    data_options,
    require_file,
    series_to_plot,
)
from lstmcli.commands.outputs import show_notes, to_records
from lstmcli.console import Output


def _scored(out: Output, scores, results, summary: dict, *, dest: Path | None,
            plot: Path | None, series: list[str] | None = None,
            calibrated: int | None = None) -> None:
    """backtest / evaluate: the table on stderr (or JSON), the scores CSV, the plot."""
    from lstmcli.evaluation.backtest import write_scores
    from lstmcli.render import scores_table

    drawn = None
    if plot is not None:  # the series chosen before anything is written
        from lstmcli.plots import results_plot, save

        out.status(f"drawing {plot.name}…")
        drawn = results_plot(results, title=f"lstmcli {summary['command']}: last origin",
                             targets=summary["targets"], source=summary["data"],
                             series=series, calibrated=calibrated)
    if dest is not None:
        write_scores(scores, dest)
        summary["out"] = str(dest)
    if drawn is not None:
        save(drawn, plot)
        summary["plot"] = str(plot)
        summary["notes"] += drawn.notes
    show_notes(out, summary)
    if out.as_json:
        summary["scores"] = to_records(scores)
        out.json(summary)
        return
    out.stop_live()
    out.render(scores_table(scores, summary))
    if dest is not None:
        out.info(f"wrote {len(scores)} rows to {dest}")
    if drawn is not None:
        out.info(f"wrote {plot}")


def backtest(
    data: DataArg,
    horizon: Annotated[int, typer.Option(
        "--horizon", "-H", min=1, max=MAX_STEPS, help="Steps forecast from "
                                         "each origin.", show_default=False)],
    config: AutoConfigOpt = None,
    origins: Annotated[int, typer.Option("--origins", "-k", min=1, max=1000, help="Number of "
                                         "forecast "
                                         "origins, counted back from each series' end.")] = 3,
    step: Annotated[int | None, typer.Option(
        "--step", min=1, max=MAX_STEPS, help="Steps between origins "
                                             "(default: the horizon).",
                                             show_default=False)] = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=MAX_COUNT,
                                               help="Override training.epochs.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Write the scores (one "
                                                  "row per series, origin, method and target) "
                                                  "to this CSV.")] = None,
    plot: PlotOpt = None,
    plot_series: PlotSeriesOpt = None,
    target: TargetOpt = None,
    time_col: TimeColOpt = None,
    id_col: IdColOpt = None,
    freq: FreqOpt = None,
    missing: MissingOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    log_file: LogOpt = None,
    wait: WaitOpt = False,
    *,
    out: Output,
) -> None:
    """Rolling-origin backtest: for each origin, train on the rows before it only, forecast
    H steps and score them, next to the Naive and Seasonal-Naive baselines on the same
    origins (MAE, RMSE, sMAPE, MASE).

    \b
    Example:
        lstmcli backtest sample_data/airline_passengers.csv -c configs/quickstart.yaml -H 12 -k 3
    """
    from lstmcli import api
    from lstmcli.config import load_config
    from lstmcli.evaluation.backtest import backtest as run_backtest

    cfg = load_config(config) if config is not None else None
    require_file(data, "data file")
    options = data_options(target=target, time_col=time_col, id_col=id_col, freq=freq,
                           missing=missing)
    wanted = series_to_plot(plot, plot_series)
    if wanted:  # an unknown ID is said before the trainings, not after them
        from lstmcli.data.read import read_series
        from lstmcli.plots import choose

        out.status(f"reading {data.name}…")
        frame = read_series(data, api.with_options(cfg, options).data if cfg is not None
                            else api.options_spec(options))
        choose([s.id for s in frame.series], wanted, source=str(data))

    def progress(k: int, n: int, seconds: float) -> None:
        out.info(f"origin {k}/{n} trained and scored in {seconds:.1f}s")
        if k < n:
            out.status(f"origin {k + 1} of {n}: training…")

    out.status(f"origin 1 of {origins}: training…")
    scores, results, summary = run_backtest(data, cfg, horizon=horizon, origins=origins,
                                            step=step, epochs=epochs, options=options,
                                            on_origin=progress)
    _scored(out, scores, results, summary, dest=out_path, plot=plot, series=wanted)


def evaluate(
    data: DataArg,
    model: ModelOpt,
    horizon: Annotated[int, typer.Option(
        "--horizon", "-H", min=1, max=MAX_STEPS, help="Rows at the end of "
                                         "each series to forecast and score.",
                                         show_default=False)],
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Write the scores to "
                                                  "this CSV.")] = None,
    plot: PlotOpt = None,
    plot_series: PlotSeriesOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    log_file: LogOpt = None,
    wait: WaitOpt = False,
    *,
    out: Output,
) -> None:
    """Score a trained run on the last H rows of each series, forecast from the rows before
    them (no retraining), next to the Naive and Seasonal-Naive baselines.

    \b
    Example:
        lstmcli evaluate held_out.csv -m runs/air -H 12 --plot eval.png
    """
    from lstmcli.evaluation.backtest import evaluate as run_evaluate

    require_file(data, "data file")
    wanted = series_to_plot(plot, plot_series)
    out.status(f"forecasting the last {horizon} row(s) of each series…")
    scores, results, summary = run_evaluate(data, model, horizon=horizon)
    calibrated = None
    if plot is not None:  # the steps with calibrated intervals are marked
        from lstmcli.runs.bundle import calibrated_steps

        calibrated = calibrated_steps(model)
    _scored(out, scores, results, summary, dest=out_path, plot=plot, series=wanted,
            calibrated=calibrated)

