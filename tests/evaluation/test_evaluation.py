"""backtest and evaluate: origins, no peeking past an origin, baselines and MASE checked
against plain re-computations, outputs (CSV, JSON, PNG)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, long_csv, wide_csv, write_yaml
from lstmcli import api
from lstmcli.config import config_from_dict
from lstmcli.evaluation import backtest as evaluation
from lstmcli.evaluation import metrics
from lstmcli.forecast import intervals

PNG = b"\x89PNG\r\n\x1a\n"


def _mase_by_hand(pred, true, insample, m):
    errors = [abs(p - t) for p, t in zip(pred, true, strict=True)]
    scale = [abs(insample[t] - insample[t - m]) for t in range(m, len(insample))]
    return (sum(errors) / len(errors)) / (sum(scale) / len(scale))


def test_backtest_origins_baselines_and_mase(tmp_path, monkeypatch):
    data = wide_csv(tmp_path / "d.csv", n=60)  # daily: season length 7
    cfg = config_from_dict(TINY)
    seen_ends = []
    real_train = api.train

    def spy(frame, config, **kw):  # what each origin's training could see: the series
        # store cut at the origin (no file is written)
        seen_ends.append(frame.series[0].ds[-1].strftime("%Y-%m-%d"))
        return real_train(frame, config, **kw)

    monkeypatch.setattr(api, "train", spy)
    scores, results, summary = evaluation.backtest(data, cfg, horizon=5, origins=2)

    raw = pd.read_csv(data)
    y, dates = raw["y"].to_numpy(), raw["date"].to_list()
    # the origin is the last row known: training saw the rows up to it and none after
    assert [r.origin.strftime("%Y-%m-%d") for r in results] == [dates[49][:10], dates[54][:10]]
    assert seen_ends == [dates[49][:10], dates[54][:10]]
    assert summary["season_length"] == 7 and summary["cases"] == 2
    assert len(scores) == 2 * 3  # origins x methods (one target)
    for r in results:
        cut = 50 if r.origin.strftime("%Y-%m-%d") == dates[49][:10] else 55
        np.testing.assert_allclose(r.truth[:, 0], y[cut:cut + 5])
        np.testing.assert_allclose(r.preds["naive"][:, 0], [y[cut - 1]] * 5)
        np.testing.assert_allclose(r.preds["seasonal_naive"][:, 0], y[cut - 7:cut - 2])
        for method, pred in r.preds.items():
            row = scores[(scores.origin == r.origin.strftime("%Y-%m-%d"))
                         & (scores.method == method)].iloc[0]
            assert row["mase"] == pytest.approx(_mase_by_hand(pred[:, 0], y[cut:cut + 5],
                                                              y[:cut], 7), rel=1e-9)
            assert row["mae"] == pytest.approx(np.mean(np.abs(pred[:, 0] - y[cut:cut + 5])))
    lstm = scores[scores.method == "lstm"]
    assert summary["overall"]["lstm"]["mase"] == pytest.approx(lstm["mase"].mean())


def test_backtest_cli_long_format_outputs(tmp_path, cli):
    data = long_csv(tmp_path / "long.csv", lengths=(40, 35, 30))
    cfg = write_yaml(tmp_path / "c.yaml", TINY)
    out, plot = tmp_path / "scores.csv", tmp_path / "bt.png"
    doc = cli.json("backtest", data, "-c", cfg, "-H", "4", "-k", "2", "-o", out,
                   "--plot", plot)
    assert doc["origins"] == 2 and doc["series"] == 3 and doc["cases"] == 6
    assert set(doc["lstm_beats_on_mase"]) == {"naive", "seasonal_naive"}
    scores = pd.read_csv(out)
    assert sorted(scores["series"].unique()) == ["s0", "s1", "s2"]
    assert len(scores) == 3 * 2 * 3 and len(doc["scores"]) == len(scores)
    assert plot.read_bytes()[:8] == PNG and plot.stat().st_size > 10_000
    assert set(doc["interval_coverage"]) == {"80", "95"}
    lstm = scores[scores.method == "lstm"]
    assert doc["interval_coverage"]["80"] == pytest.approx(lstm["coverage_80"].mean())
    assert scores[scores.method != "lstm"]["coverage_80"].isna().all()
    # the table for people goes to stderr, marked where the model loses
    result = cli("backtest", data, "-c", cfg, "-H", "4", "-k", "1", "--epochs", "1")
    assert result.stdout == "" and "seasonal_naive" in result.stderr
    assert "lstm beats on MASE" in result.stderr


def test_backtest_too_many_origins_is_a_data_error(tmp_path, cli):
    data = wide_csv(tmp_path / "d.csv", n=30)
    cfg = write_yaml(tmp_path / "c.yaml", TINY)
    result = cli("backtest", data, "-c", cfg, "-H", "10", "-k", "3", code=4)
    assert "3 origin(s) of horizon 10" in result.stderr


def test_evaluate_scores_the_tail_like_a_rollout_from_before_it(tmp_path, cli, trained):
    out, plot = tmp_path / "eval.csv", tmp_path / "eval.png"
    doc = cli.json("evaluate", trained["data"], "-m", trained["run"], "-H", "5", "-o", out,
                   "--plot", plot)
    assert doc["horizon"] == 5 and doc["series"] == 1
    assert any("scores are optimistic" in n for n in doc["notes"])  # trained on that tail
    raw = pd.read_csv(trained["data"])
    head = tmp_path / "head.csv"
    raw.iloc[:-5].to_csv(head, index=False)
    table, _ = api.rollout(head, trained["run"], horizon=5)
    rows = pd.read_csv(out)
    lstm = rows[rows.method == "lstm"].iloc[0]
    mae = np.mean(np.abs(table["y_forecast"].to_numpy() - raw["y"].to_numpy()[-5:]))
    assert lstm["mae"] == pytest.approx(mae, rel=1e-6)
    assert plot.read_bytes()[:8] == PNG


def test_rollout_plot(tmp_path, cli, trained):
    plot = tmp_path / "f.png"
    doc = json.loads(cli("rollout", trained["data"], "-m", trained["run"], "-H", "6",
                         "--plot", plot, "--json").stdout)
    assert doc["plot"] == str(plot) and plot.read_bytes()[:8] == PNG


def test_interval_offsets_are_normalised_conformal():
    """Hand check: step scales are the mean |error| made non-decreasing; the quantiles of the
    pooled normalised errors, scaled back per step."""
    from lstmcli.forecast.intervals import _offsets

    rng = np.random.default_rng(3)
    errors = rng.normal(size=(40, 3)) * [1.0, 3.0, 2.0]
    errors[35:, 2] = np.nan  # origins near the end see fewer steps
    lo, hi = _offsets(errors, 0.8)
    scale = np.maximum.accumulate([np.nanmean(np.abs(errors[:, h])) for h in range(3)])
    z = (errors / scale).ravel()
    qlo, qhi = metrics.interval_from_residuals(z[np.isfinite(z)].reshape(-1, 1), 0.8)
    np.testing.assert_allclose(lo, scale * qlo[0])
    np.testing.assert_allclose(hi, scale * qhi[0])
    assert scale[2] == scale[1]  # a smaller far-step error does not narrow the interval


@pytest.mark.parametrize("most", [2000, 5])
def test_calibration_origins_are_every_tail_row_or_evenly_spaced(monkeypatch, most):
    """The origins are chosen by their place among all tail rows without listing them all
    (a list of every (series, row) pair cost ~100 bytes a row on a 27 M-row file)."""
    monkeypatch.setattr(intervals, "MAX_ORIGINS", most)
    series = [(None, 10, 7, None), (None, 5, 5, None), (None, 12, 3, None)]  # length, train
    every = [(i, t) for i, (_, n, k, _) in enumerate(series) for t in range(max(k, 4), n)]
    want = every if len(every) <= most else [
        every[j] for j in np.linspace(0, len(every) - 1, most).astype(int)]
    assert intervals._origins(series, before=4) == want


def test_rollout_intervals_nest_and_widen(tmp_path, cli):
    data = wide_csv(tmp_path / "d.csv", n=120)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {**TINY["training"],
                                                                 "interval_steps": 6}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    result = cli("rollout", data, "-m", tmp_path / "run", "-H", "8")
    assert "intervals are calibrated for the first 6 step(s)" in result.stderr
    table = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert list(table.columns) == ["date", "y_forecast", "y_lo_80", "y_hi_80", "y_lo_95",
                                   "y_hi_95"]
    first = table.iloc[:6]
    assert (first["y_lo_95"] <= first["y_lo_80"]).all()
    assert (first["y_hi_80"] <= first["y_hi_95"]).all()
    width = (first["y_hi_80"] - first["y_lo_80"]).to_numpy()
    assert (np.diff(width) >= -1e-6 * width[0]).all() and width[0] > 0  # CSV rounds
    assert not table.isna().any().any()  # later steps: at least the last width x sqrt(h/6)
    last = table.iloc[5]
    for h in (7, 8):
        row, grow = table.iloc[h - 1], np.sqrt(h / 6)
        for side in ("lo_80", "hi_80", "lo_95", "hi_95"):
            got = abs(row[f"y_{side}"] - row["y_forecast"])
            assert got >= abs(last[f"y_{side}"] - last["y_forecast"]) * grow - 1e-4


def test_offsets_beyond_the_calibrated_steps():
    """Past the N calibrated steps: the last offset grown by sqrt(h / N), or, where the
    calibrated offsets grew faster, by their own mean growth per step."""
    fast = np.array([[1.0], [2.0], [3.0]])  # one per step: faster than sqrt
    np.testing.assert_allclose(intervals._beyond(fast, 5, 1), [[4.0], [5.0]])
    np.testing.assert_allclose(intervals._beyond(-fast, 5, 1), [[-4.0], [-5.0]])  # lo side
    slow = np.array([[1.0], [1.1], [1.2]])
    np.testing.assert_allclose(intervals._beyond(slow, 5, 1),
                               1.2 * np.sqrt([[4 / 3], [5 / 3]]))
    np.testing.assert_allclose(intervals._beyond(np.array([[2.0]]), 3, 1),
                               2 * np.sqrt([[2.0], [3.0]]))
    assert intervals._beyond(fast, 3, 1).shape == (0, 1)


def test_spread_is_the_seasonal_mase_scale_floored():
    v = np.array([[10.0, 1.0], [12.0, 1.0], [11.0, 1.0], [13.0, 1.0], [15.0, 1.0]])
    # season 2: |11-10|, |13-12|, |15-11| -> 2; the flat column: 1% of its level
    np.testing.assert_allclose(metrics.spread(v, 2), [2.0, 0.01])
    # no full season and one more row: one step apart, |2| |-1| |2| |2| -> 1.75
    np.testing.assert_allclose(metrics.spread(v[:, :1], 4), [1.75])
    np.testing.assert_allclose(metrics.spread(v[:1, :1], 1), [0.1])  # one row: the floor
    with_nan = np.array([[1.0], [np.nan], [3.0], [4.0]])
    np.testing.assert_allclose(metrics.spread(with_nan, 1), [1.0])  # NaN pairs skipped


def test_unit_of_reads_runs_of_every_version():
    from lstmcli.runs.meta import IntervalsMeta

    doc = {"levels": [80], "horizon": 1, "lo": {"80": [[-1.0]]}, "hi": {"80": [[1.0]]}}
    values, scale = np.array([[1.0], [3.0], [2.0]]), np.array([6.0])
    assert intervals.unit_of(IntervalsMeta(**doc), values, scale) == 1.0  # original units
    got = intervals.unit_of(IntervalsMeta(**doc, units="scaled"), values, scale)
    np.testing.assert_allclose(got, [6.0])
    got = intervals.unit_of(IntervalsMeta(**doc, units="level_spread", season=1), values,
                            scale)
    np.testing.assert_allclose(got, [3.0])  # sqrt(6 * mean(|3-1|, |2-3|))


def test_a_volatile_series_gets_wider_intervals_than_a_smooth_one(tmp_path, cli):
    """Offsets are pooled in each series' unit, √(level · spread): at the same level, the
    series that moves more gets wider intervals, by the square root of how much more."""
    rng = np.random.default_rng(5)
    n, frames = 80, []
    for sid, noise in (("calm", 0.2), ("wild", 3.0)):
        y = 100 + 2 * np.sin(np.arange(n) / 2) + noise * rng.normal(size=n)
        frames.append(pd.DataFrame({"unique_id": sid, "ds": pd.date_range(
            "2024-01-01", periods=n, freq="D"), "y": np.round(y, 4)}))
    data = tmp_path / "two.csv"
    pd.concat(frames).to_csv(data, index=False)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "data": {
        "season_length": 1, "scaling": "mean", "scale_per_series": True},
                                           "training": {**TINY["training"], "validation": 10,
                                                        "interval_steps": 3}})
    cli("train", data, "-c", cfg, "-o", tmp_path / "run", "--quiet")
    meta = json.loads((tmp_path / "run" / "bundle.json").read_text())["intervals"]
    assert meta["units"] == "level_spread" and meta["season"] == 1
    table = pd.read_csv(pd.io.common.StringIO(
        cli("rollout", data, "-m", tmp_path / "run", "-H", "3").stdout))
    width = {sid: (g.y_hi_80 - g.y_lo_80).to_numpy() for sid, g in table.groupby("unique_id")}
    from lstmcli.runs.bundle import load_bundle

    scaler = load_bundle(tmp_path / "run").scaler
    history = pd.read_csv(data)
    unit = {sid: intervals.unit(g[["y"]].to_numpy(), scaler.of(sid).scale, 1)[0]
            for sid, g in history.groupby("unique_id")}
    np.testing.assert_allclose(width["wild"] / width["calm"], unit["wild"] / unit["calm"],
                               rtol=1e-3)
    assert unit["wild"] > 1.5 * unit["calm"]  # spreads about 3.2 apart
