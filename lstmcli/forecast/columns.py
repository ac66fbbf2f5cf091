"""The names of the columns lstmcli writes, in one place (docs/outputs.md).

A value lstmcli computes never takes an input column's own name: each column about a
target is the target's name with a suffix saying what it holds, so a script cannot take
a forecast for the data it came from.

    <target>_forecast    the forecast, in the target's units
    <target>_lo_<L>      the lower bound of the L% prediction interval (L = 80, 95)
    <target>_hi_<L>      its upper bound
    <target>_actual      the value in the file at that time stamp (predict)
    origin               the time stamp of the last known row a forecast starts from
    step                 1..H: how many steps after the origin the row's time stamp is
"""

from __future__ import annotations

ORIGIN = "origin"
STEP = "step"


def forecast(target: str) -> str:
    return f"{target}_forecast"


def actual(target: str) -> str:
    return f"{target}_actual"


def bound(target: str, side: str, level: int) -> str:
    """side: "lo" or "hi"."""
    return f"{target}_{side}_{level}"
