"""Rich renderings of core results for people (never parsed by programs)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

PREVIEW = 3  # windows shown


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def window_table(ws, config) -> Group:
    """Shapes in the data's own words, then the first windows as the model will see them."""
    w = config.window
    feats, targs = ws.frame.features, ws.frame.targets
    shapes = Table(title="windows", show_edge=False)
    for col in ("array", "shape", "axes"):
        shapes.add_column(col)
    n, L, F = ws.X.shape
    shapes.add_row("X", f"({n}, {L}, {F})",
                   f"{n} samples x {L} time steps (look_back) x {F} features {feats}")
    H, T = ws.y.shape[1:]
    shapes.add_row("y", f"({n}, {H}, {T})",
                   f"{n} samples x {H} steps ahead (horizon) x {T} targets {targs}")
    shapes.add_row("", "", f"{len(ws.frame.series)} series, stride {w.stride}; windows never "
                   "cross a series boundary")

    preview = Table(title=f"first {min(PREVIEW, n)} windows (raw units)", show_edge=False)
    preview.add_column("sample")
    if ws.frame.is_long:
        preview.add_column("series")
    for k in range(L):
        preview.add_column(f"t-{L - k - 1}" if k < L - 1 else "t")
    preview.add_column("->")
    for h in range(H):
        preview.add_column(f"t+{h + 1}")
    for i in range(min(PREVIEW, n)):
        steps = [" ".join(_fmt(v) for v in ws.X[i, k]) for k in range(L)]
        ahead = [" ".join(_fmt(v) for v in ws.y[i, h]) for h in range(H)]
        lead = [str(i)] + ([ws.series[i]] if ws.frame.is_long else [])
        preview.add_row(*lead, *steps, "", *ahead)
    caption = (f"each time-step cell holds the features {feats}; each t+h cell the targets "
               f"{targs}; the first target of sample 0 is at {ws.ds[0]}")
    preview.caption = caption
    return Group(shapes, preview)
