"""Rich renderings of core results for people (never parsed by programs)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

PREVIEW = 3  # windows shown


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _shown(n: int, edge: int = 2) -> list[int | None]:
    """Positions to show of n: all when few, else the first and last few with a gap (None)."""
    if n <= 2 * edge + 1:
        return list(range(n))
    return [*range(edge), None, *range(n - edge, n)]


def window_table(ws, config) -> Group:
    """Shapes in the data's own words, then the first windows as the model will see them."""
    w = config.window
    feats, targs = ws.frame.features, ws.frame.targets
    shapes = Table(title="windows", show_edge=False)
    for col in ("array", "shape", "axes"):
        shapes.add_column(col)
    n, L, F = ws.x_shape
    X, y, series, ds = ws.first(PREVIEW)
    shapes.add_row("X", f"({n}, {L}, {F})",
                   f"{n} samples x {L} time steps (look_back) x {F} features {feats}")
    H, T = ws.y_shape[1:]
    shapes.add_row("y", f"({n}, {H}, {T})",
                   f"{n} samples x {H} steps ahead (horizon) x {T} targets {targs}")
    shapes.add_row("", "", f"{len(ws.frame.series)} series, stride {w.stride}; windows never "
                   "cross a series boundary")

    preview = Table(title=f"first {min(PREVIEW, n)} windows (raw units)", show_edge=False)
    preview.add_column("sample")
    if ws.frame.is_long:
        preview.add_column("series")
    steps_shown = _shown(L)
    ahead_shown = _shown(H)
    for k in steps_shown:
        preview.add_column("..." if k is None else f"t-{L - k - 1}" if k < L - 1 else "t")
    preview.add_column("->")
    for h in ahead_shown:
        preview.add_column("..." if h is None else f"t+{h + 1}")
    for i in range(min(PREVIEW, n)):
        steps = ["" if k is None else " ".join(_fmt(v) for v in X[i, k]) for k in steps_shown]
        ahead = ["" if h is None else " ".join(_fmt(v) for v in y[i, h]) for h in ahead_shown]
        lead = [str(i)] + ([series[i]] if ws.frame.is_long else [])
        preview.add_row(*lead, *steps, "", *ahead)
    caption = (f"each time-step cell holds the features {feats}; each t+h cell the targets "
               f"{targs}; the first target of sample 0 is at {ds[0]}")
    preview.caption = caption
    return Group(shapes, preview)


def inspect_table(info: dict) -> Group:
    """The layers of a model with shapes, parameter formulas and cuDNN eligibility."""
    table = Table(title=f"{info['topology']} ({info['mode']})", show_edge=False)
    for col in ("layer", "type", "output shape", "params", "params from", "cuDNN on GPU"):
        table.add_column(col)
    off_cudnn = []
    for row in info["layers"]:
        cudnn = row.get("cudnn")
        mark = "" if "cudnn" not in row else ("yes" if cudnn else
                                               "n/a" if cudnn is None else "NO, see below")
        if "cudnn" in row and cudnn is False:
            off_cudnn.append(f"{row['name']}: {row['cudnn_reason']}")
        calls = f" ×{row['calls']} calls" if row.get("calls", 1) > 1 else ""
        table.add_row(row["name"], row["type"] + calls, str(row["output_shape"]),
                      str(row["params"]), row["formula"], mark)
    lines = [f"input  {info['input_meaning']}", f"output {info['output_meaning']}",
             f"total parameters: {info['total_params']}", *off_cudnn]
    lines += [f"{kind} parameters = {text}" for kind, text in info["formulas"].items()]
    if info["mode"] == "stateful":
        lines.append(f"stateful: batch size {info['batch_size']}, chunk length "
                     f"{info['chunk_length']}; state reset at each epoch and row-group start")
    return Group(table, *(Text(line) for line in lines))  # Text: no markup in "[batch, ...]"


def scores_table(scores, summary: dict) -> Group:
    """Model and baselines per series (means over origins), overall last; a model row
    that loses to a baseline on MASE is marked."""
    measures = ["mase", "smape", "mae", "rmse"]
    many_targets = scores["target"].nunique() > 1
    table = Table(title=f"{summary['command']}: horizon {summary['horizon']}, season length "
                  f"{summary['season_length']}; means over origins", show_edge=False)
    for col in ("series", *(["target"] if many_targets else []), "method", *measures):
        table.add_column(col, justify="right" if col in measures else "left")
    means = scores.groupby(["series", "target", "method"], sort=False)[measures].mean()
    keys = list(dict.fromkeys((s, t) for s, t, _ in means.index))
    shown = keys if len(keys) <= 12 else keys[:10]
    for s, t in shown:
        part = means.loc[(s, t)]
        for method, row in part.iterrows():
            label = Text(str(method))
            if method == "lstm":
                worse = [b for b in part.index if b != "lstm" and part.loc[b, "mase"] < row["mase"]]
                if worse:
                    label = Text(f"lstm, loses to {' and '.join(worse)}", style="bold red")
            table.add_row(Text(str(s)), *([Text(str(t))] if many_targets else []), label,
                          *[f"{row[m]:.4g}" for m in measures])
        table.add_section()
    for method, row in summary["overall"].items():
        table.add_row("all", *([""] if many_targets else []), method,
                      *[f"{row[m]:.4g}" for m in measures])
    beats = "; ".join(f"{share:.0%} of cases vs {b}" for b, share in
                      summary["lstm_beats_on_mase"].items())
    coverage = "; ".join(f"{level}% interval covers {share:.0%}" for level, share in
                         summary.get("interval_coverage", {}).items())
    footer = Text(f"lstm beats on MASE: {beats} ({summary['cases']} series x origin x target)"
                  + (f"\nprediction intervals: {coverage} of actual values" if coverage else "")
                  + (f"\n{len(keys) - len(shown)} more series in the CSV/JSON output"
                     if len(shown) < len(keys) else ""))
    return Group(table, footer)
