"""A config picked from the data, for `lstmcli train DATA.csv --out RUN_DIR` (and `backtest`)
without --config. Measured choices, with the figures, in docs/accuracy.md:

- horizon H: the one asked for (`train --horizon`, `backtest -H`), else `default_horizon`
  (the longest that fits when the series are too short for it); the model emits all H
  steps from one window (a direct head) and `rollout` uses it in one call, in blocks of H
  beyond it;
- look_back: 2 H or two seasons, whichever is longer (at most 96); 4 H for several
  quarterly series (QUARTERLY_SPAN); with several series a
  window may start before its series, needing only a season or a quarter of look_back of
  the series' own rows (window.min_input), so short series train and are forecast by the
  model; one series keeps whole windows, look_back bounded by its length;
- scale-free: each series divided by its own mean absolute value (per series, no shift, so a
  positive series stays positive), each window divided again by its own level inside the
  model, and changes learnt from the window's last value (model.residual: last_value);
- with several series, the head reads the LSTM's output and the whole window
  (model.linear_skip): a linear autoregression beside the LSTM;
- validation on the last H steps of each series (the forecast the user asks for; with few
  series, at least a fifth of the shortest, for enough validation windows);
- one LSTM(64) (32 past SMALL_WINDOWS windows), MAE loss (with several series `mase`:
  each window's error divided by its series' seasonal-naive scale, the metric the
  collections are scored by), batch 256, Adam at 0.003, at most 100 epochs (fewer for
  large collections: see TRAIN_PASSES), early stopping (patience 5 with several series,
  10 for one), then trained again on every row for the best epoch count
  (training.refit); the median of three of them (seeds), each
  early-stopped up to ENSEMBLE_WINDOWS training windows, beyond it only the first
  (training.ensemble_validation: first); the epochs cut so that the early-stopped stages
  and the refits pass over at most TRAIN_PASSES windows; past WINDOW_BUDGET windows, each
  series' most recent windows only (window.history), so training time stays bounded;
- with several monthly or quarterly series, the trend damped beyond the first year of the
  forecast (model.damping 0.5, model.season the year's steps);
- calendar features only for a single series (across many series the month pattern is in
  the window: two seasons of it).
"""

from __future__ import annotations

import math
from pathlib import Path

from lstmcli.config import Config, DataSpec, config_from_dict
from lstmcli.data.read import Frame, read_series, with_calendar
from lstmcli.evaluation import metrics

CALENDAR = {1: [], 4: ["month"], 5: ["dayofweek"], 7: ["dayofweek"], 12: ["month"],
            24: ["hour", "dayofweek"], 52: ["weekofyear"]}
MANY = 20  # series from which the validation tail is exactly H steps
# Several quarterly series read QUARTERLY_SPAN H steps, not 2 H: on M1 quarterly (H = 8)
# 4 H gave MASE 1.635, 1.666, 1.650, 1.657 over four seeds against 1.680, 1.679, 1.664,
# 1.677 for 2 H (AutoETS 1.659): AutoETS led on the long trending series, which 16 steps
# show only in part. Measured elsewhere it did not help (docs/accuracy.md).
QUARTERLY_SPAN = 4
# Up to this many training windows, three members (the median of three seeds): on Tourism
# monthly MASE 1.588 -> 1.545 for three times the training time, on Tourism quarterly
# (31,015 windows) 1.530 -> 1.492 (docs/accuracy.md). Beyond it, to keep large
# collections' training time in bounds, only the first is early-stopped and all three are
# trained in the refit for its epoch count (training.ensemble_validation: first). One model
# there is a lottery on its noisy validation curve: Tourism and M1 monthly in one file
# (90,555 windows) scored 1.496 and 1.053 (best epoch 9 of 19) or 1.414 and 1.091 (patience
# 5: best epoch 2); three members 1.387 and 1.074 (patience 5, refits of 2 epochs; with
# patience 10, refits of 9: 1.403 and 1.048), trained in 186 s (docs/accuracy.md).
ENSEMBLE_WINDOWS = 40_000
MIN_EPOCHS, BATCH = 5, 256
MEMBERS = 3  # training.ensemble
# The window passes (windows x epochs) of the whole training, at most: the epochs (at least
# MIN_EPOCHS) are cut so that every early-stopped stage (one member's past ENSEMBLE_WINDOWS,
# else each member's) and every refit, each at most that long, fit in it. (It replaced a
# cap of 10,000 optimizer steps a stage.) NeuralForecast's NHITS (1,000 steps) fits 1,500
# monthly series (Tourism and M1 monthly and the first halves of 517 of them: 120,000
# windows) in 61-95 s on 2 cores; `lstmcli train` on them took 580 s with LSTM(64) and no
# budget (15 epochs, best 10, three refits of 10), 126-141 s with it and LSTM(32) (5
# epochs, best 4, refits of 4; benchmarks/training_time.py, docs/accuracy.md).
TRAIN_PASSES = 2_400_000
# Past this many training windows even MIN_EPOCHS epochs would exceed TRAIN_PASSES: each
# series then trains on its most recent windows only (window.history, as N-BEATS limits its
# history), the most that fit. Measured on Tourism monthly, where it is not needed: the last
# 5 H windows of each series (43,920 of 78,902) trained 3.2x faster but cost 1-3% (MASE
# 1.414 and 1.433 against 1.402 and 1.392, two seeds), so smaller collections keep them all.
WINDOW_BUDGET = TRAIN_PASSES // ((1 + MEMBERS) * MIN_EPOCHS)  # 120,000
# Early-stopping patience. With several series 5: on the six Tourism and M1 collections
# MASE moved by at most 0.4% from patience 10 (Tourism monthly 1.402 and 1.402, M1 monthly
# 1.0265 and 1.026, M1 quarterly 1.639 and 1.635, M1 yearly 3.339 and 3.351), for 1.2-2.1x
# less training time. One series keeps 10: its accuracy table was measured with it.
PATIENCE_MANY, PATIENCE_ONE = 5, 10
# LSTM units: 64, and 32 past SMALL_WINDOWS training windows, where time counts: twice the
# windows a second of 64 on 2 cores (33,500 against 15,800, batch 256, look_back 48). With
# the budget above, on the collections past it 32 scored as well or better (Tourism monthly
# 1.380 -> 1.374, quarterly 1.472 -> 1.460, M1 monthly 1.0245 -> 1.024); on the small ones
# 64 did (M1 quarterly, three seeds, 1.640 against 1.653; Tourism yearly 2.618 against
# 2.633; M1 yearly 3.339 against 3.347), and they train in about a minute either way.
UNITS, UNITS_LARGE, SMALL_WINDOWS = 64, 32, 10_000
# Monthly and quarterly data: from the second year of the forecast on, each step's change
# over the same step a year before is halved, year by year (model.damping): the network
# extrapolated trends too far (Tourism monthly's most seasonal quarter of series forecast
# +0.45 seasonal-naive scales too high on average, AutoETS -0.03). Applied to the saved
# forecasts of the six Tourism and M1 collections, 0.5 moved Tourism monthly 1.396 -> 1.380
# (beats Seasonal-Naive on 73% -> 78% of series), M1 monthly 1.0265 -> 1.0254 (69% -> 71%),
# M1 quarterly 1.639 -> 1.628 (66% -> 71%); 0.7 or 0.8 gained less. Per step on yearly
# data it cost 20% (M1 yearly 3.339 -> 4.000), so other seasons get none (not measured),
# nor does a single series (not measured).
DAMPING, DAMPED_SEASONS = 0.5, (4, 12)


def default_horizon(season: int) -> int:
    """Two seasons (monthly 24, quarterly 8, daily 14, hourly 48), a quarter of a year for
    weekly data (13), 6 steps without a season."""
    return 13 if season == 52 else 2 * season if season > 1 else 6


def recent_windows(counts: list[int], h: int, budget: int) -> int | None:
    """window.history for series with `counts` training windows each: None when they all
    fit in `budget`, else the largest N (at least h) whose last-N windows of each series,
    sum(min(N, count)), fit."""
    if sum(counts) <= budget:
        return None
    lo, hi = h, max(counts)  # the answer lies in [h, hi); bisect on the windows kept
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if sum(min(mid, c) for c in counts) <= budget else (lo, mid - 1)
    return lo


def _tail(h: int, lengths: list[int]) -> int:
    """Validation steps at the end of each series: H, or with few series at least a fifth
    of the shortest (for more than one validation window)."""
    return h if len(lengths) >= MANY else max(h, math.ceil(0.2 * lengths[0]))


def auto_config(frame: Frame, horizon: int | None = None, *, command: str = "train"
                ) -> tuple[Config, list[str]]:
    """The config for this data, and the note saying what was picked; command: `train`
    (which saves it in the run directory) or `backtest` (which trains it at each origin)."""
    season = metrics.season_length(frame.freq)
    lengths = sorted(len(s) for s in frame.series)
    median = lengths[len(lengths) // 2]
    asked = horizon or default_horizon(season)
    h = asked
    # series too short for this head: the longest that fits, and rollout goes on in blocks
    # (halving instead: M1 yearly trained 3 steps of the 6, MASE 3.380 and 80% intervals
    # covering 71%; the longest that fits, 5: 3.351 and 79%)
    while h > 1 and median - _tail(h, lengths) - h < max(4, season):
        h -= 1
    tail = _tail(h, lengths)
    many = len(lengths) > 1
    # long enough to see the cycle and the horizon; with several series, windows may start
    # before their series (window.min_input: a season, or a quarter of the window, of the
    # series' own rows), so short series train too; one series keeps whole windows and
    # a look_back its length leaves windows for
    look_back = max(2, min(max(2 * h, 2 * season if season > 1 else 4), 96))
    if many and season == 4:  # quarterly collections: 4 H, to judge a trend
        look_back = max(look_back, min(QUARTERLY_SPAN * h, 96))
    if many:
        least = min(look_back, max(season, 4, look_back // 4))
    else:
        look_back = least = max(2, min(look_back, median - tail - h))
    counts = [max(0, n - tail - least - h + 1) for n in lengths]
    history = recent_windows(counts, h, WINDOW_BUDGET)
    windows = sum(min(c, history or c) for c in counts)
    validated = "each" if windows <= ENSEMBLE_WINDOWS else "first"
    patience = PATIENCE_MANY if many else PATIENCE_ONE
    stages = (1 if validated == "first" else MEMBERS) + MEMBERS  # early-stopped + refits
    epochs = max(MIN_EPOCHS, min(100, TRAIN_PASSES // (stages * max(1, windows))))
    units = UNITS_LARGE if windows > SMALL_WINDOWS else UNITS
    damped = ({"season": season, "damping": DAMPING}
              if many and season in DAMPED_SEASONS and h > season else {})
    calendar = (CALENDAR.get(season, []) if not many and frame.time_col is not None
                and not isinstance(frame.freq, int) else [])
    doc = {
        "data": {"calendar": calendar, "scaling": "mean",
                 "scale_per_series": frame.is_long and many},
        "window": {"look_back": look_back, "horizon": h,
                   "min_input": least if least < look_back else None, "history": history},
        # the linear skip was measured on collections; on one series (CO2) it overfits
        "model": {"layers": [{"units": units}], "residual": "last_value", "normalize": "window",
                  "linear_skip": many, **damped},
        "training": {"epochs": epochs, "batch_size": BATCH, "loss": "mase" if many else "mae",
                     "validation": tail,
                     "optimizer": {"learning_rate": 0.003},
                     "early_stopping": {"patience": patience}, "interval_steps": h,
                     "ensemble": MEMBERS, "ensemble_validation": validated, "refit": True},
    }
    config = config_from_dict(doc, source="automatic config")
    model = f"the median of {MEMBERS} LSTM({units})s" + (
        " with a linear skip from the window" if many else "")
    said = ("" if h == asked and horizon else
            " (the default for this frequency; set --horizon)" if h == asked else
            f" (of the {asked} asked: the series are short; rollout goes on in blocks)")
    notes = [f"no --config: picked horizon {h}{said}"
             f", look_back {look_back} (season length {season})"
             + (f", windows from {least} rows of a series on" if least < look_back else "")
             + (f", each series' last {history} windows ({windows:,} in all)" if history
                else "")
             + f", each series and window scaled by its own level, {model} forecasting the "
             "horizon at once"
             + (f", the trend damped by {DAMPING} a year from the forecast's second year on"
                if damped else "")
             + (", each window's error weighted by its series' seasonal-naive scale (loss "
                "mase)" if many else "")
             + ", validation "
             f"on the last {tail} steps of each series, "
             + (f"at most {epochs} epochs (its {stages} training stages within about "
                f"{TRAIN_PASSES:,} window passes), " if epochs < 100 else "")
             + f"early stopping (patience {patience})"
             + (", then each trained again on every row for its best epoch count; "
                if validated == "each" else " of the first only (a large collection), then "
                "all three trained on every row for its best epoch count; ")
             + ("the config is saved as RUN_DIR/config.yaml to edit and reuse"
                if command == "train" else "trained at each origin; `lstmcli train DATA.csv "
                f"-o RUN_DIR{f' --horizon {horizon}' if horizon else ''}` picks the same "
                "and saves it as RUN_DIR/config.yaml")]
    return config, notes


def picked(data_path: str | Path, horizon: int | None = None, spec: DataSpec | None = None,
           *, command: str = "train") -> tuple[Config, Frame, list[str]]:
    """Read the CSV once: the automatic config, the frame as that config reads it (with its
    calendar columns), and the note saying what was picked. spec: data keys given on the
    command line (--target, --time-col, ...): the data is read with them and they are kept
    in the config."""
    spec = spec or DataSpec()
    frame = read_series(data_path, spec)
    config, notes = auto_config(frame, horizon, command=command)
    given = spec.model_dump(exclude_unset=True)
    if given:
        config = config.model_copy(update={"data": config.data.model_copy(update=given)})
    if config.data.calendar:
        frame = with_calendar(frame, config.data.calendar)
    return config, frame, notes
