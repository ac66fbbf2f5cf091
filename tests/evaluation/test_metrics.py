"""Metrics, baselines and intervals against numbers worked out by hand (shown in comments)."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from lstmcli.evaluation.metrics import (
    coverage,
    interval_from_residuals,
    mae,
    mase,
    mase_scale,
    naive,
    rmse,
    scores,
    scores_by_target,
    season_length,
    seasonal_naive,
    smape,
)

# ------------------------------------------------------------------- season_length

SEASONS = [
    # what pd.infer_freq writes in pandas 3
    ("h", 24), ("2h", 12), ("3h", 8), ("6h", 4), ("12h", 2), ("5h", 1),
    ("D", 7), ("2D", 1), ("7D", 52), ("14D", 26),
    ("B", 5), ("C", 5), ("2B", 1),
    ("W", 52), ("W-SUN", 52), ("W-MON", 52), ("W-WED", 52), ("2W-SUN", 26), ("3W", 1),
    ("MS", 12), ("ME", 12), ("BMS", 12), ("BME", 12), ("3MS", 4), ("6ME", 2),
    ("SMS", 24), ("SME", 24),
    ("QS-JAN", 4), ("QS-OCT", 4), ("QE-DEC", 4), ("QE-NOV", 4), ("BQS-JAN", 4),
    ("YS-JAN", 1), ("YE-DEC", 1), ("YE-JUN", 1),
    ("min", 60), ("5min", 288), ("10min", 144), ("15min", 96), ("30min", 48), ("90min", 16),
    ("60min", 24), ("1h30min", 16),
    ("s", 60), ("10s", 360), ("60s", 60),
    ("ms", 1), ("us", 1), ("ns", 1), ("bh", 1),
    # legacy spellings that pandas 3 rejects
    ("H", 24), ("2H", 12), ("T", 60), ("15T", 96), ("S", 60),
    ("M", 12), ("Q", 4), ("Q-DEC", 4), ("Y", 1), ("A", 1), ("A-DEC", 1), ("AS-JAN", 1),
    # no calendar: integer steps, irregular data, nonsense
    (1, 1), (7, 1), (None, 1), ("", 1), ("nonsense", 1), ("0h", 1),
    (" h ", 24), ("-1D", 7),
]


@pytest.mark.parametrize(("freq", "expected"), SEASONS)
def test_season_length(freq, expected):
    assert season_length(freq) == expected


def test_season_length_accepts_an_offset_and_what_infer_freq_returns():
    assert season_length(pd.offsets.Hour(2)) == 12
    assert season_length(pd.offsets.MonthBegin()) == 12
    for freq, expected in [("h", 24), ("D", 7), ("W-SUN", 52), ("MS", 12), ("QS-JAN", 4),
                           ("30min", 48), ("B", 5), ("YE-DEC", 1)]:
        with warnings.catch_warnings():  # pandas 3 announces infer_freq returning an offset
            warnings.simplefilter("ignore")
            inferred = pd.infer_freq(pd.date_range("2021-01-04", periods=12, freq=freq))
        assert season_length(getattr(inferred, "freqstr", inferred)) == expected
        assert season_length(pd.tseries.frequencies.to_offset(inferred)) == expected


# ------------------------------------------------------------------- baselines


def test_naive_repeats_the_last_row():
    history = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    np.testing.assert_array_equal(naive(history, 2), [[3.0, 30.0], [3.0, 30.0]])
    np.testing.assert_array_equal(naive(np.array([4.0, 5.0]), 3), [5.0, 5.0, 5.0])


def test_seasonal_naive_index_table():
    # n = 7, m = 3: forecast[h] = history[7 - 3 + h % 3] -> rows 4 5 6 4 5 6 4
    history = np.arange(7.0) * 10
    np.testing.assert_array_equal(seasonal_naive(history, 7, 3), [40, 50, 60, 40, 50, 60, 40])


def test_seasonal_naive_reproduces_a_periodic_series_exactly():
    cycle = np.array([[0.0, 5.0], [3.0, -1.0], [1.0, 2.0], [4.0, 0.5]])  # period 4, 2 targets
    series = np.tile(cycle, (5, 1))  # 20 rows
    history, future = series[:11], series[11:]  # history ends mid-cycle
    np.testing.assert_array_equal(seasonal_naive(history, 9, 4), future)
    assert mae(seasonal_naive(history, 9, 4), future) == 0.0


@pytest.mark.parametrize("m", [0, 1, 5])
def test_seasonal_naive_falls_back_to_naive(m):
    history = np.array([1.0, 2.0, 3.0, 4.0])  # m = 5 > n = 4: no full season
    np.testing.assert_array_equal(seasonal_naive(history, 3, m), [4.0, 4.0, 4.0])


def test_baselines_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"`horizon` must be >= 1. Received: horizon=0"):
        naive(np.ones(3), 0)
    with pytest.raises(ValueError, match="non-empty"):
        seasonal_naive(np.ones((0, 2)), 2, 2)


# ------------------------------------------------------------------- point metrics

TRUE = np.array([1.0, 2.0, 3.0, 4.0])
PRED = np.array([2.0, 2.0, 1.0, 4.0])  # errors 1, 0, 2, 0


def test_mae_rmse_smape_by_hand():
    assert mae(PRED, TRUE) == pytest.approx(3 / 4)  # (1 + 0 + 2 + 0) / 4
    assert rmse(PRED, TRUE) == pytest.approx(math.sqrt(5 / 4))  # sqrt((1 + 0 + 4 + 0) / 4)
    # 200*1/(1+2) = 66.67, 0, 200*2/(3+1) = 100, 0 -> (200/3 + 100) / 4 = 125/3
    assert smape(PRED, TRUE) == pytest.approx(125 / 3)
    assert smape(TRUE, PRED) == pytest.approx(125 / 3)  # symmetric in its arguments


def test_metrics_flatten_any_shape():
    assert mae(PRED.reshape(2, 2), TRUE.reshape(2, 2)) == pytest.approx(0.75)
    assert rmse(PRED[:, None], TRUE) == pytest.approx(math.sqrt(1.25))
    with pytest.raises(ValueError, match="same number of values"):
        mae(PRED, TRUE[:3])


def test_smape_counts_a_pair_of_zeros_as_zero():
    # terms 0 (0 vs 0), 200 (1 vs 0: 200*1/1), 0 -> 200/3; the extreme 200 is the cap
    assert smape(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0])) == pytest.approx(200 / 3)
    assert smape(np.zeros(3), np.zeros(3)) == 0.0


def test_published_examples():
    # scikit-learn's mean_absolute_error / root_mean_squared_error docstring arrays:
    # errors .5 .5 0 1 -> MAE 2/4 = 0.5, RMSE sqrt(1.5/4)
    y_true, y_pred = np.array([3, -0.5, 2, 7]), np.array([2.5, 0.0, 2, 8])
    assert mae(y_pred, y_true) == 0.5
    assert rmse(y_pred, y_true) == pytest.approx(0.6123724356957945)
    # pmdarima.metrics.smape docstring: 42.60306631890196 (same 200|y-f|/(|y|+|f|) mean)
    y_true = np.array([0.07533] * 6 + [0.0672] * 2)
    y_pred = np.array([0.102, 0.107, 0.047, 0.1, 0.032, 0.047, 0.108, 0.089])
    assert smape(y_pred, y_true) == pytest.approx(42.60306631890196, rel=1e-12)


def test_mase_by_hand():
    insample = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    pred, true = np.array([7.0, 8.0]), np.array([8.0, 8.0])  # MAE (1 + 0) / 2 = 0.5
    # m = 2: |3-1|, |4-2|, |5-3|, |6-4| = 2 each -> scale 2 -> 0.5 / 2
    assert mase_scale(insample, 2) == 2.0
    assert mase(pred, true, insample, 2) == 0.25
    # m = 1: |2-1| ... |6-5| = 1 -> scale 1
    assert mase(pred, true, insample, 1) == 0.5
    # m >= len(insample), or m < 1: fall back to m = 1
    assert mase(pred, true, insample, 6) == 0.5
    assert mase(pred, true, insample, 0) == 0.5
    # 2-D (n, 1) in-sample series is the same series
    assert mase(pred, true, insample[:, None], 2) == 0.25


def test_mase_published_example():
    # sktime mean_absolute_scaled_error docstring -> 0.18333333333333335. By hand:
    # MAE = (.5 + .5 + 0 + 1 + .75) / 5 = 0.55; in-sample |diffs| 4.5 3.5 2 3 2 3 -> 18/6 = 3
    y_train = np.array([5, 0.5, 4, 6, 3, 5, 2])
    y_true = np.array([3, -0.5, 2, 7, 2])
    y_pred = np.array([2.5, 0.0, 2, 8, 1.25])
    assert mase(y_pred, y_true, y_train) == pytest.approx(0.18333333333333335)


def test_mase_flat_insample_is_inf_or_zero():
    flat_season = np.array([1.0, 5.0, 1.0, 5.0, 1.0, 5.0])  # seasonal naive with m=2 is exact
    assert mase(np.array([1.0]), np.array([2.0]), flat_season, 2) == math.inf
    assert mase(np.array([2.0]), np.array([2.0]), flat_season, 2) == 0.0
    assert mase(np.array([1.0]), np.array([2.0]), flat_season, 1) == 0.25  # |diffs| all 4


def test_nan_pairs_are_skipped():
    pred = np.array([1.0, np.nan, 3.0, 5.0])
    true = np.array([2.0, 2.0, np.nan, 5.0])  # kept pairs: (1, 2), (5, 5)
    assert mae(pred, true) == 0.5
    assert rmse(pred, true) == pytest.approx(math.sqrt(0.5))
    assert smape(pred, true) == pytest.approx(100 / 3)  # (200*1/3 + 0) / 2
    # NaN in the in-sample series drops the differences that touch it: only |4 - 3| is left
    assert mase_scale(np.array([1.0, np.nan, 3.0, 4.0]), 1) == 1.0
    assert mase(pred, true, np.array([1.0, np.nan, 3.0, 4.0])) == 0.5


def test_nothing_left_is_nan():
    nan2 = np.array([np.nan, np.nan])
    for metric in (mae, rmse, smape):
        assert math.isnan(metric(nan2, np.ones(2)))
    assert math.isnan(mase(np.ones(2), np.ones(2), np.array([3.0])))  # no in-sample difference
    assert math.isnan(mase(nan2, np.ones(2), np.arange(5.0)))


def test_scores_and_scores_by_target():
    insample = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    got = scores(np.array([7.0, 8.0]), np.array([8.0, 8.0]), insample, 2)
    # MAE .5; RMSE sqrt(1/2); sMAPE (200*1/15 + 0) / 2 = 20/3; MASE .5 / 2
    assert got == pytest.approx({"mae": 0.5, "rmse": math.sqrt(0.5), "smape": 20 / 3,
                                 "mase": 0.25})
    # sktime's multioutput MASE example, per column: [0.10526316, 0.28571429]
    # column 0: MAE (.5 + 0 + 1)/3 = .5, scale (1.5 + 8)/2 = 4.75 -> 2/19
    # column 1: MAE (1 + 1 + 1)/3 = 1, scale (0 + 7)/2 = 3.5 -> 2/7
    y_train = np.array([[0.5, 1], [-1, 1], [7, -6]])
    y_pred = np.array([[0, 2], [-1, 2], [8, -5]])
    per_target = scores_by_target(y_pred, y_train, y_train)
    assert [s["mase"] for s in per_target] == pytest.approx([2 / 19, 2 / 7])
    assert [s["mae"] for s in per_target] == pytest.approx([0.5, 1.0])
    with pytest.raises(ValueError, match="insample"):
        scores_by_target(y_pred, y_train, y_train[:, 0])


# ------------------------------------------------------------------- intervals


def test_coverage():
    lo, hi = np.zeros(4), np.ones(4)
    assert coverage(lo, hi, np.array([0.0, 0.5, 1.0, 2.0])) == 0.75  # bounds are inside
    assert coverage(lo, hi, np.array([np.nan, 0.5, 1.0, 2.0])) == pytest.approx(2 / 3)
    assert coverage(-1.0, 1.0, np.array([0.0, 2.0])) == 0.5  # scalars broadcast
    assert math.isnan(coverage(0.0, 1.0, np.array([np.nan])))


def test_interval_is_the_conformal_order_statistic():
    # residuals 1..19 (n = 19) in a scrambled order, second step = 10x the first
    values = np.random.default_rng(0).permutation(np.arange(1.0, 20.0))
    residuals = np.stack([values, 10 * values], axis=1)  # (19 origins, horizon 2)
    # level .8: k = ceil(20 * .9) = 18 -> hi = 18th smallest = 18, lo = 18th largest = 2
    lo, hi = interval_from_residuals(residuals, 0.8)
    np.testing.assert_array_equal(lo, [2.0, 20.0])
    np.testing.assert_array_equal(hi, [18.0, 180.0])
    # level .5: k = ceil(20 * .75) = 15 -> [5, 15], wider than np.quantile's [5.5, 14.5]
    lo, hi = interval_from_residuals(residuals, 0.5)
    np.testing.assert_array_equal(lo, [5.0, 50.0])
    np.testing.assert_array_equal(hi, [15.0, 150.0])
    assert np.quantile(values, [0.25, 0.75]).tolist() == [5.5, 14.5]


def test_interval_covers_exactly_level_of_exchangeable_errors():
    # Hold out each of 20 distinct errors in turn; the interval from the other 19 at level .8
    # contains it 16 times out of 20 (ranks 3..18): coverage exactly .8
    errors = np.random.default_rng(1).normal(size=20)
    hits = 0
    for i in range(20):
        lo, hi = interval_from_residuals(np.delete(errors, i)[:, None], 0.8)
        hits += int(lo[0] <= errors[i] <= hi[0])
    assert hits == 16


def test_interval_small_n_nan_and_float_edges():
    # n = 4 at level .9: k = ceil(5 * .95) = 5 > 4 -> clipped to the range [min, max]
    lo, hi = interval_from_residuals(np.array([[3.0], [-1.0], [2.0], [0.0]]), 0.9)
    assert (lo[0], hi[0]) == (-1.0, 3.0)
    # NaNs are skipped per step; a step with none left gives NaN offsets
    r = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, np.nan], [2.0, np.nan]])
    lo, hi = interval_from_residuals(r, 0.5)  # step 0: n = 3, k = ceil(4 * .75) = 3
    assert (lo[0], hi[0]) == (1.0, 3.0) and np.isnan(lo[1]) and np.isnan(hi[1])
    # (99 + 1) * (1 + .1) / 2 is 55.00000000000001 in floats; k must be 55, not 56
    lo, hi = interval_from_residuals(np.arange(1.0, 100.0)[:, None], 0.1)
    assert (lo[0], hi[0]) == (45.0, 55.0)
    with pytest.raises(ValueError, match=r"`level` must be between 0 and 1"):
        interval_from_residuals(np.ones((3, 2)), 80)
    with pytest.raises(ValueError, match=r"\(n_origins, horizon\)"):
        interval_from_residuals(np.ones(3), 0.8)
