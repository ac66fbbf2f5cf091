"""The `lstmcli` command line: parse, call the core in `lstmcli.api`, render.

This is the only place where an `LstmcliError` becomes an exit code: a user mistake
prints one `error:` line on stderr (a traceback only with --debug).

Beside it, in commands/: options.py (the options the commands share), outputs.py (a
command's outputs checked, locked and written), forecast.py (the predict and rollout
commands) and scoring.py (backtest and evaluate); the commands of those two are registered
here.
"""

import contextlib
import functools
import inspect
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from lstmcli import __version__
from lstmcli.commands import forecast as cli_forecast
from lstmcli.commands import scoring as cli_scoring
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
    QuietOpt,
    TargetOpt,
    TimeColOpt,
    WaitOpt,
    data_options,
    require_file,
)
from lstmcli.commands.outputs import check_outputs, output_lock, show_notes
from lstmcli.console import Output
from lstmcli.errors import LstmcliError, UsageError

app = typer.Typer(
    name="lstmcli",
    help="Forecast CSV time series with LSTMs: window, train, predict, rollout.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
                check_outputs(kwargs, name or func.__name__)
                out.open_log(kwargs)
                with output_lock(kwargs.get("out_path"), wait=kwargs.get("wait", False),
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
    require_file(data, "data file")
    ws = make_window_set(data, cfg, horizon=horizon, options=data_options(
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
        show_notes(out, summary)
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
    require_file(data, "data file")
    report = out.epoch_reporter()
    try:
        summary = api.train(data, cfg, out=run_dir, epochs=epochs, seed=seed, force=force,
                            resume=resume, wait=wait, distribute=distribute, horizon=horizon,
                            options=data_options(target=target, time_col=time_col,
                                                 id_col=id_col, freq=freq, missing=missing),
                            on_epoch=report, on_wait=out.note, on_status=out.status,
                            on_note=None if json_out else out.note)
    finally:
        out.stop_live()
    if json_out:
        out.json(summary)
        return
    show_notes(out, summary)
    t = summary["training"]
    out.info(f"trained {t['epochs_run']} epoch(s) in {t['seconds']:.1f}s; best epoch "
             f"{t['best_epoch']} ({t['monitor']} {t['best_loss']:.5g}); " +
             (f"wrote {run_dir}" if summary["run_dir"] else "the chief writes the run"))


# Registered here, after train and before inspect: their place in `lstmcli --help`.
predict = _command(cli_forecast.predict)
rollout = _command(cli_forecast.rollout)
backtest = _command(cli_scoring.backtest)
evaluate = _command(cli_scoring.evaluate)


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
