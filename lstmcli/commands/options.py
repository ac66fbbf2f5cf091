"""The options the `lstmcli` commands share, defined once, and the checks of what they name
(a data file that exists, --plot-series only with --plot).

Typer reads each command's signature (cli.py, commands/forecast.py, commands/scoring.py); the
`Annotated` types here carry the flags and their help. The options that set keys of the
config's data section (--target, --time-col, ...) become the dict `api` takes
(`data_options`).
"""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from lstmcli.errors import DataError, UsageError

MAX_STEPS, MAX_COUNT = 100_000, 1_000_000  # as config/sections.py bounds window.horizon, epochs

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


def data_options(*, target, time_col, id_col, freq, missing) -> dict:
    """The data keys the options set (api.DATA_OPTIONS)."""
    given = {"targets": list(target) if target else None, "time": time_col,
             "series": id_col, "freq": freq, "missing": missing.value if missing else None}
    return {k: v for k, v in given.items() if v is not None}


def require_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give the {what} itself")
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")


def series_to_plot(plot: Path | None, values: list[str] | None) -> list[str] | None:
    """--plot-series as a list of IDs; it needs --plot."""
    if not values:
        return None
    if plot is None:
        raise UsageError("--plot-series chooses the series of --plot; give --plot FILE.png too")
    from lstmcli.plots import parse_series

    return parse_series(values)

