"""The `lstmcli` command line: parse, call the core in `lstmcli.api`, render.

This is the only place where an `LstmcliError` becomes an exit code: a user mistake
prints one `error:` line on stderr (a traceback only with --debug).
"""

import contextlib
import functools
import inspect
import io
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from lstmcli import __version__
from lstmcli.console import Output
from lstmcli.errors import DataError, LstmcliError, UsageError

app = typer.Typer(
    name="lstmcli",
    help="Forecast CSV time series with LSTMs: window, train, predict, rollout.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

MAX_STEPS, MAX_COUNT = 100_000, 1_000_000  # as config.py bounds window.horizon and epochs

# Options shared by the commands, defined once.
DataArg = Annotated[Path, typer.Argument(help="CSV file: wide (time + value columns) or long "
                                         "(series id, time, values: unique_id, ds, y or "
                                         "e.g. store, day, revenue).", show_default=False,
                                         metavar="DATA.csv")]
AutoConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML config file (default: picked from the data, see "
    "docs/accuracy.md).", show_default=False)]
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.",
                                         show_default=False)]
ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="Run directory written by "
                                        "`lstmcli train`.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary "
                                       "on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
LogOpt = Annotated[Path | None, typer.Option("--log-file", help="Also append every message "
                                             "(time-stamped, plain) to this file, e.g. for "
                                             "cron; --quiet does not silence it.",
                                             show_default=False)]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Also draw the last origin of "
                                              "the first 4 series, or of --plot-series, every "
                                              "target (history tail, forecasts, actuals, "
                                              "intervals) into this PNG.", show_default=False)]
PlotSeriesOpt = Annotated[list[str] | None, typer.Option(
    "--plot-series", help="Series to draw with --plot: IDs from the series column, separated "
    "by commas or with the option repeated (default: the first 4; a note names them).",
    show_default=False, metavar="ID[,ID...]")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="If another lstmcli job is writing the "
                                       "same output, wait for it instead of failing (exit 6).")]


class Missing(str, Enum):
    error = "error"
    interpolate = "interpolate"
    ffill = "ffill"
    drop = "drop"


# Options that set a key of the config's data section (train, backtest, window), over the
# given or the picked config; a run's config.yaml keeps them (docs/config.md).
TargetOpt = Annotated[list[str] | None, typer.Option(
    "--target", help="Column to forecast (data.targets); repeat it for several.",
    show_default=False, metavar="COLUMN")]
TimeColOpt = Annotated[str | None, typer.Option(
    "--time-col", help="The time column (data.time; default: ds, date, day, ... or the text "
    "column of dates).", show_default=False, metavar="COLUMN")]
IdColOpt = Annotated[str | None, typer.Option(
    "--id-col", help="The series-id column of a long file (data.series; default: unique_id, "
    "or the one text column whose values repeat).", show_default=False, metavar="COLUMN")]
FreqOpt = Annotated[str | None, typer.Option(
    "--freq", help="Frequency of the time stamps (data.freq): a pandas alias such as D, h, "
    "W-SUN, MS, or a step for step numbers (default: inferred).", show_default=False,
    metavar="FREQ")]
MissingOpt = Annotated[Missing | None, typer.Option(
    "--missing", help="Missing values and missing time stamps (data.missing; default error): "
    "refuse, fill as rows (interpolate, ffill) or leave out (drop).", show_default=False,
    case_sensitive=False)]


def _data_options(*, target, time_col, id_col, freq, missing) -> dict:
    """The data keys the options set (api.DATA_OPTIONS)."""
    given = {"targets": list(target) if target else None, "time": time_col,
             "series": id_col, "freq": freq, "missing": missing.value if missing else None}
    return {k: v for k, v in given.items() if v is not None}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmcli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version,
                                                is_eager=True, help="Show the version.")] = False
          ) -> None:
    """Forecast CSV time series with LSTMs: window, train, predict, rollout."""


def _command(func=None, *, name: str | None = None):
    """Register a command whose LstmcliErrors become one stderr line and an exit code."""
    if func is None:
        return lambda f: _command(f, name=name)

    @functools.wraps(func)
    def run(*args, **kwargs):
        out = Output(quiet=kwargs.get("quiet", False), as_json=kwargs.get("json_out", False),
                     log_file=kwargs.get("log_file"), command=name or func.__name__)
        code = 0
        try:
            with _terminate_as_interrupt():
                _check_outputs(kwargs, name or func.__name__)
                out.open_log(kwargs)
                with _output_lock(kwargs.get("out_path"), wait=kwargs.get("wait", False),
                                  out=out):
                    return func(*args, out=out, **kwargs)
        except LstmcliError as exc:
            if kwargs.get("debug"):
                traceback.print_exc()
            out.error(str(exc))
            code = exc.exit_code
            raise typer.Exit(code) from None
        except KeyboardInterrupt:
            out.error("interrupted by SIGINT")
            code = 130
            raise typer.Exit(code) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except OSError as exc:  # a file the system refused: its path and the cause in words
            from lstmcli.runs.outputs import os_reason

            if kwargs.get("debug"):
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            out.error(f"{where}{os_reason(exc)}")
            code = 2
            raise typer.Exit(code) from None
        except Exception as exc:  # noqa: BLE001 - the one place internal errors are reported
            if kwargs.get("debug"):
                traceback.print_exc()
            out.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the "
                      "traceback)")
            code = 1
            raise typer.Exit(code) from None
        finally:
            out.close(code)

    # Typer reads the signature: hide the injected `out` parameter.
    sig = inspect.signature(func)
    run.__signature__ = sig.replace(parameters=[p for p in sig.parameters.values()
                                                if p.name != "out"])
    return app.command(name=name)(run)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so temporary and lock files are removed on the way out
    (training installs its own graceful handler on top of this one)."""
    import signal
    import threading

    from lstmcli.errors import Interrupted

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted("stopped by SIGTERM", signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_outputs(kwargs: dict, command: str) -> None:
    """Before any work: every output may be written and is none of the command's inputs
    (lstmcli/runs/outputs.py holds the policy)."""
    from lstmcli.runs.outputs import plan

    is_train = command == "train"
    table_on_stdout = command in ("predict", "rollout")  # their table goes to stdout
    out = kwargs.get("out_path")
    if table_on_stdout and kwargs.get("json_out") and str(out) == "-":
        out = None  # the rows go inside the JSON document
    plan(inputs={"DATA.csv": kwargs.get("data"), "--config": kwargs.get("config"),
                 "--future": kwargs.get("future")},
         runs_read={"--model": kwargs.get("model")},
         files={"--out": out, "--plot": kwargs.get("plot"),
                "--log-file": kwargs.get("log_file")},
         run_dirs={"--out": kwargs.get("run_dir") if is_train else None},
         stdout_default=("--json" if kwargs.get("json_out") else
                         "the forecast table (no --out)" if table_on_stdout and out is None
                         else None))


def _output_lock(path: Path | None, *, wait: bool, out: Output):
    """Hold the advisory lock on an output file for the whole command (see locks.py)."""
    if path is None or str(path) == "-":
        return contextlib.nullcontext()
    from lstmcli.runs.locks import hold

    return hold(path, wait=wait, on_wait=out.note)


def _require_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give the {what} itself")
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")


def _notes(out: Output, summary: dict) -> None:
    for note in summary.get("notes", []):
        out.note(note)


def _records(table) -> list[dict]:
    """Rows as JSON-ready dicts; time stamps as ISO text (dates alone when all at midnight)."""
    import pandas as pd

    table = table.copy()
    for col in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[col]):
            midnight = (table[col] == table[col].dt.normalize()).all()
            table[col] = table[col].dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
    return table.to_dict(orient="records")


def _emit_table(out: Output, table, summary: dict, dest: Path | None) -> None:
    """Write a result table: to `dest`, or to stdout as CSV, or inside the JSON summary."""
    from lstmcli.runs.files import write_atomic

    if dest is not None and str(dest) != "-":
        with write_atomic(dest) as fh:
            table.to_csv(fh, index=False, float_format="%.8g")
        summary["out"] = str(dest)
        if out.as_json:
            out.json(summary)
        else:
            out.info(f"wrote {len(table)} rows to {dest}")
        return
    if out.as_json:
        summary["rows_data"] = _records(table)
        out.json(summary)
    else:
        buf = io.StringIO()
        table.to_csv(buf, index=False, float_format="%.8g")
        out.data(buf.getvalue())


@_command
def window(
    data: DataArg,
    config: AutoConfigOpt = None,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Write X, y and metadata "
                                                  "to this .npz file.")] = None,
    horizon: Annotated[int | None, typer.Option(
        "--horizon", "-H", min=1, max=MAX_STEPS, help="Override window.horizon (without "
        "--config: the horizon the picked config is built for).", show_default=False)] = None,
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
    """Cut a CSV into [samples, time_steps, features] windows and their targets.

    Shows the shapes and the first windows in the data's own column names. Without
    --config, the windows of the config `train` would pick from the data.

    \b
    Example:
        lstmcli window sample_data/airline_passengers.csv -c configs/quickstart.yaml -o w.npz
        lstmcli window sales.csv --id-col store --time-col day --target revenue
    """
    from lstmcli.api import make_window_set, save_window_set
    from lstmcli.config import load_config
    from lstmcli.render import window_table

    cfg = load_config(config) if config is not None else None
    _require_file(data, "data file")
    ws = make_window_set(data, cfg, horizon=horizon, options=_data_options(
        target=target, time_col=time_col, id_col=id_col, freq=freq, missing=missing))
    cfg = ws.config
    summary = {"command": "window", "data": str(data), "series": len(ws.frame.series),
               "x_shape": ws.x_shape, "y_shape": ws.y_shape,
               "features": ws.frame.features, "targets": ws.frame.targets,
               "seconds": ws.seconds, "notes": ws.frame.notes}
    if out_path is not None:
        summary["out"] = str(save_window_set(ws, out_path, cfg))
    if json_out:
        out.json(summary)
    else:
        _notes(out, summary)
        out.render(window_table(ws, cfg))
        if out_path is not None:
            out.info(f"wrote {out_path}")


@_command
def train(
    data: DataArg,
    run_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.",
                                          show_default=False)],
    config: AutoConfigOpt = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=MAX_COUNT,
                                               help="Override training.epochs.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, max=2**32 - 1,
                                             help="Override training.seed.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace RUN_DIR if it exists (and "
                                        "discard an interrupted run's checkpoints).")] = False,
    distribute: Annotated[str | None, typer.Option(
        "--distribute", help="Override training.distribute: none, mirrored (this machine's "
        "GPUs) or multi_worker (the cluster in TF_CONFIG; run it on every worker).",
        show_default=False)] = None,
    horizon: Annotated[int | None, typer.Option(
        "--horizon", "-H", min=1, max=MAX_STEPS, help="Steps the model forecasts from one "
        "window (window.horizon): train for the forecast you will ask `rollout` for. Without "
        "--config the picked config uses it (default: from the season length).",
        show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted training "
                                         "of RUN_DIR from its last checkpoint (same data and "
                                         "config; --epochs may be raised).")] = False,
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
    """Train a model on a CSV and save it as a run directory.

    A checkpoint is kept each epoch; after a crash, a kill or Ctrl-C (exit 130; SIGTERM
    143) the same command with --resume continues where it stopped.

    Without --config, a config is picked from the data (docs/accuracy.md) and saved as
    RUN_DIR/config.yaml, with the data options (--target, --time-col, --id-col, --freq,
    --missing) given.

    \b
    Example:
        lstmcli train sample_data/airline_passengers.csv -c configs/quickstart.yaml -o runs/air
        lstmcli train sample_data/airline_passengers.csv -o runs/auto
        lstmcli train sales.csv --id-col store --target revenue --missing interpolate -o runs/s
    """
    out.status("starting…")
    from lstmcli import api
    from lstmcli.config import load_config

    cfg = load_config(config) if config is not None else None
    _require_file(data, "data file")
    report = out.epoch_reporter()
    try:
        summary = api.train(data, cfg, out=run_dir, epochs=epochs, seed=seed, force=force,
                            resume=resume, wait=wait, distribute=distribute, horizon=horizon,
                            options=_data_options(target=target, time_col=time_col,
                                                  id_col=id_col, freq=freq, missing=missing),
                            on_epoch=report, on_wait=out.note, on_status=out.status,
                            on_note=None if json_out else out.note)
    finally:
        out.stop_live()
    if json_out:
        out.json(summary)
        return
    _notes(out, summary)
    t = summary["training"]
    out.info(f"trained {t['epochs_run']} epoch(s) in {t['seconds']:.1f}s; best epoch "
             f"{t['best_epoch']} ({t['monitor']} {t['best_loss']:.5g}); " +
             (f"wrote {run_dir}" if summary["run_dir"] else "the chief writes the run"))


@_command
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

    _require_file(data, "data file")
    out.status("predicting…")
    table, summary = api.predict(data, model, last=last)
    _notes(out, summary)
    _emit_table(out, table, summary, out_path)


@_command
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

    _require_file(data, "data file")
    if future is not None:
        _require_file(future, "--future file")
    wanted = _plot_series(plot, plot_series)
    out.status(f"forecasting {horizon} step(s)…")
    history = []  # the data the forecast started from, for the plot
    table, summary = api.rollout(data, model, horizon=horizon, future=future,
                                 on_frame=history.append if plot is not None else None)
    if plot is not None:
        out.status(f"drawing {plot.name}…")
        from lstmcli.plots import rollout_plot, save
        from lstmcli.runs.bundle import read_meta

        meta = read_meta(model)[1]
        drawn = rollout_plot(history[0], table, horizon=horizon, series=wanted,
                             calibrated=(meta.get("intervals") or {}).get("horizon"))
        save(drawn, plot)
        summary["plot"] = str(plot)
        summary["notes"] += drawn.notes
    out.stop_live()
    _notes(out, summary)
    if plot is not None and not json_out:
        out.info(f"wrote {plot}")
    _emit_table(out, table, summary, out_path)


def _plot_series(plot: Path | None, values: list[str] | None) -> list[str] | None:
    """--plot-series as a list of IDs; it needs --plot."""
    if not values:
        return None
    if plot is None:
        raise UsageError("--plot-series chooses the series of --plot; give --plot FILE.png too")
    from lstmcli.plots import parse_series

    return parse_series(values)


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
    _notes(out, summary)
    if out.as_json:
        summary["scores"] = _records(scores)
        out.json(summary)
        return
    out.stop_live()
    out.render(scores_table(scores, summary))
    if dest is not None:
        out.info(f"wrote {len(scores)} rows to {dest}")
    if drawn is not None:
        out.info(f"wrote {plot}")


@_command
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
    _require_file(data, "data file")
    options = _data_options(target=target, time_col=time_col, id_col=id_col, freq=freq,
                            missing=missing)
    wanted = _plot_series(plot, plot_series)
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


@_command
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

    _require_file(data, "data file")
    wanted = _plot_series(plot, plot_series)
    out.status(f"forecasting the last {horizon} row(s) of each series…")
    scores, results, summary = run_evaluate(data, model, horizon=horizon)
    calibrated = None
    if plot is not None:  # the steps with calibrated intervals are marked
        from lstmcli.runs.bundle import read_meta

        calibrated = (read_meta(model)[1].get("intervals") or {}).get("horizon")
    _scored(out, scores, results, summary, dest=out_path, plot=plot, series=wanted,
            calibrated=calibrated)


@_command(name="inspect")
def inspect_model(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config to build "
                                                "(no data needed).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Run directory to "
                                               "describe instead.")] = None,
    features: Annotated[int | None, typer.Option(min=1, help="Number of input features when the "
                                                 "config does not list data.features "
                                                 "(default 1).")] = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    log_file: LogOpt = None,
    *,
    out: Output,
) -> None:
    """Show the layers a config builds: shapes, parameter counts and their formulas, and
    whether each recurrent layer stays on the fused cuDNN kernel on a GPU.

    \b
    Example:
        lstmcli inspect -c configs/quickstart.yaml
        lstmcli inspect -m runs/air --json
    """
    from lstmcli.api import describe_config
    from lstmcli.render import inspect_table

    if (config is None) == (model is None):
        raise UsageError("inspect: give exactly one of --config CFG.yaml or --model RUN_DIR")
    info = describe_config(config=config, run_dir=model, n_features=features)
    if json_out:
        out.json(info)
    else:
        out.render(inspect_table(info))


def main() -> None:
    """The `lstmcli` entry point. Usage mistakes Typer finds (unknown option, bad value)
    become one `error:` line, exit 2, like every other error."""
    from typer._click.exceptions import NoArgsIsHelpError
    from typer._click.exceptions import UsageError as TyperUsageError

    try:
        code = app(prog_name="lstmcli", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        code = exc.exit_code
    except TyperUsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "lstmcli"
        Output().error(f"{exc.format_message()} (see `{command} -h`)")
        code = exc.exit_code
    except typer.Abort:
        Output().error("aborted")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
