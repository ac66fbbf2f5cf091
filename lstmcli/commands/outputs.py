"""A command's outputs, from the command line's side: checked before any work, locked while
the command runs, and its results shown or written (notes; a table to a CSV file, stdout or
the JSON summary).

Which paths a command may write is the policy of lstmcli/runs/outputs.py; this is the glue
that hands it the command's options. cli.py calls `check_outputs` and `output_lock` for
every command.
"""

import contextlib
import io
from pathlib import Path

from lstmcli.console import Output


def check_outputs(kwargs: dict, command: str) -> None:
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


def output_lock(path: Path | None, *, wait: bool, out: Output):
    """Hold the advisory lock on an output file for the whole command (see locks.py)."""
    if path is None or str(path) == "-":
        return contextlib.nullcontext()
    from lstmcli.runs.locks import hold

    return hold(path, wait=wait, on_wait=out.note)


def show_notes(out: Output, summary: dict) -> None:
    for note in summary.get("notes", []):
        out.note(note)


def to_records(table) -> list[dict]:
    """Rows as JSON-ready dicts; time stamps as ISO text (dates alone when all at midnight)."""
    import pandas as pd

    table = table.copy()
    for col in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[col]):
            midnight = (table[col] == table[col].dt.normalize()).all()
            table[col] = table[col].dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
    return table.to_dict(orient="records")


def emit_table(out: Output, table, summary: dict, dest: Path | None) -> None:
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
        summary["rows_data"] = to_records(table)
        out.json(summary)
    else:
        buf = io.StringIO()
        table.to_csv(buf, index=False, float_format="%.8g")
        out.data(buf.getvalue())

