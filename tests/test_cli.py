"""End to end through the CLI on tiny data and tiny models."""

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, RUN_FILES, TINY, create_dataset, long_csv, wide_csv, write_yaml

# ----------------------------------------------------------------------------- window


def test_window_matches_create_dataset_and_writes_npz(cli, tmp_path):
    data = wide_csv(tmp_path / "w.csv", n=30)
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "window": {"look_back": 3}})
    result = cli("window", data, "--config", cfg, "--out", tmp_path / "w.npz")
    assert "(27, 3, 1)" in result.stderr and result.stdout == ""
    npz = np.load(tmp_path / "w.npz")
    series = pd.read_csv(data)[["y"]].to_numpy()
    ref_x, ref_y = create_dataset(series, 3)
    np.testing.assert_allclose(npz["X"][:-1, :, 0], ref_x, rtol=1e-6)
    np.testing.assert_allclose(npz["y"][:-1, 0, 0], ref_y, rtol=1e-6)
    assert npz["features"].tolist() == ["y"] and int(npz["look_back"]) == 3
    assert npz["ds"][0] == "2024-01-04"  # the first target follows 3 input days


def test_window_long_format_never_crosses_series(cli, tmp_path):
    data = long_csv(tmp_path / "l.csv", lengths=(10, 8))
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "window": {"look_back": 3, "horizon": 2}})
    summary = cli.json("window", data, "--config", cfg, "--out", tmp_path / "w.npz")
    assert summary["x_shape"] == [(10 - 4) + (8 - 4), 3, 1] and summary["y_shape"] == [10, 2, 1]
    npz = np.load(tmp_path / "w.npz")
    assert npz["series"].tolist() == ["s0"] * 6 + ["s1"] * 4
    raw = pd.read_csv(data)
    s1 = raw[raw.unique_id == "s1"]["y"].to_numpy()
    np.testing.assert_allclose(npz["X"][6, :, 0], s1[:3], rtol=1e-6)


# ------------------------------------------------------------------------------ train


def test_train_writes_a_complete_run_directory(trained):
    run = trained["run"]
    assert sorted(p.name for p in run.iterdir()) == RUN_FILES
    meta = json.loads((run / "bundle.json").read_text())
    assert meta["format_version"] == 1 and meta["freq"] == "D"
    assert set(meta["versions"]) == {"lstmcli", "keras", "tensorflow", "numpy", "pandas", "python"}
    assert meta["config"]["data"]["features"] == ["y"] and meta["columns"] == ["y"]
    assert meta["last_ds"] == {"series_0": "2024-02-09T00:00:00"}
    assert meta["training"]["epochs_run"] == 2 and meta["scaler"]["kind"] == "minmax"
    history = pd.read_csv(run / "history.csv")
    assert list(history.columns) == ["epoch", "loss", "val_loss", "seconds"]
    assert len(history) == 2
    # no stray temporary directories next to it
    assert [p.name for p in run.parent.iterdir() if p.name.startswith(".")] == []


def test_scaler_is_fitted_on_training_rows_only(trained):
    meta = json.loads((trained["run"] / "bundle.json").read_text())
    y = pd.read_csv(trained["data"])["y"].to_numpy()
    n_train = 40 - 8  # validation 0.2 of 40 rows
    assert meta["scaler"]["shift"] == [pytest.approx(y[:n_train].min())]
    assert meta["scaler"]["scale"] == [pytest.approx(np.ptp(y[:n_train]))]


def test_train_json_summary_and_stderr_progress(cli, tmp_path, trained):
    result = cli("train", trained["data"], "--config", trained["config"], "--out",
                 tmp_path / "r", "--epochs", "1", "--json")
    summary = json.loads(result.stdout)
    assert summary["training"]["epochs_run"] == 1 and summary["x_shape"][1:] == [4, 1]
    assert "epoch 1/1" in result.stderr  # progress goes to stderr, never stdout


def test_existing_run_dir_needs_force_and_is_kept_on_failure(cli, tmp_path, trained):
    run = tmp_path / "run"
    cli("train", trained["data"], "--config", trained["config"], "--out", run, "-q")
    before = (run / "bundle.json").read_text()
    result = cli("train", trained["data"], "--config", trained["config"], "--out", run, code=5)
    assert "already exists; pass --force" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("date,y\n2024-01-01,1\n2024-01-02,x\n")
    cli("train", bad, "--config", trained["config"], "--out", run, "--force", code=4)
    assert (run / "bundle.json").read_text() == before  # untouched by the failed run
    cli("train", trained["data"], "--config", trained["config"], "--out", run, "--force",
        "--seed", "5", "-q")
    assert json.loads((run / "bundle.json").read_text())["config"]["training"]["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "run"]  # no temp dirs


def test_same_seed_same_weights_and_forecasts(cli, tmp_path, trained):
    forecasts = []
    for name in ("a", "b"):
        cli("train", trained["data"], "--config", trained["config"], "--out", tmp_path / name,
            "-q")
        forecasts.append(cli("rollout", trained["data"], "-m", tmp_path / name, "-H", "5").stdout)
    a = pd.read_csv(tmp_path / "a" / "history.csv")["loss"]
    b = pd.read_csv(tmp_path / "b" / "history.csv")["loss"]
    assert a.tolist() == b.tolist()
    assert forecasts[0] == forecasts[1]  # bit-identical text
    from lstmcli.runs.bundle import load_bundle

    wa, wb = (load_bundle(tmp_path / n).model.get_weights() for n in ("a", "b"))
    for x, y in zip(wa, wb, strict=True):  # (the .h5 bytes differ in Keras's name counters
        np.testing.assert_array_equal(x, y)  # when both runs share one process)


def test_no_pickle_in_a_run_directory(trained):
    """model.keras holds JSON config + HDF5 weights; bundle.json and history.csv are text."""
    names = zipfile.ZipFile(trained["run"] / "model.keras").namelist()
    assert sorted(names) == ["config.json", "metadata.json", "model.weights.h5"]
    for path in trained["run"].iterdir():
        data = path.read_bytes()
        assert not data.startswith(b"\x80") and b"pickle" not in data.lower(), path


# ---------------------------------------------------------------------------- predict


def test_predict_every_window_with_actuals(cli, trained):
    result = cli("predict", trained["data"], "--model", trained["run"])
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["date", "y_forecast", "y_lo_80", "y_hi_80", "y_lo_95",
                                   "y_hi_95", "y_actual"]
    assert len(table) == 40 - 4  # one prediction per window with a known target
    assert table["date"].iloc[0] == "2024-01-05"
    actual = pd.read_csv(trained["data"])["y"].to_numpy()[4:]
    np.testing.assert_allclose(table["y_actual"], actual, rtol=1e-6)


def test_predict_last_forecasts_past_the_end(cli, trained, tmp_path):
    out = tmp_path / "p.csv"
    summary = cli.json("predict", trained["data"], "--model", trained["run"], "--last",
                       "--out", out)
    table = pd.read_csv(out)
    assert summary["rows"] == 1 and summary["out"] == str(out)
    assert table.to_dict("list")["date"] == ["2024-02-10"]


def test_predict_json_without_out_keeps_rows_inside(cli, trained):
    summary = cli.json("predict", trained["data"], "--model", trained["run"], "--last")
    assert summary["rows_data"][0]["date"] == "2024-02-10"
    assert isinstance(summary["rows_data"][0]["y_forecast"], float)


def test_saved_run_predicts_what_the_trained_model_predicted(tmp_path, trained):
    """Train in-process, predict, save, load, predict again: identical numbers."""
    from lstmcli.api import split_windows
    from lstmcli.config import load_config
    from lstmcli.data.read import read_series
    from lstmcli.forecast.loops import predict_batches
    from lstmcli.models.topology import build_model
    from lstmcli.runs.bundle import load_bundle, save_bundle
    from lstmcli.training.fit import fit, seed_everything
    from lstmcli.training.windows import make_windows

    cfg = load_config(trained["config"])
    frame = read_series(trained["data"], cfg.data)
    scaler, data, _ = split_windows(frame, cfg)
    seed_everything(0)
    model = build_model(cfg.model, look_back=4, n_features=1, horizon=1, n_targets=1)
    fit(model, data, cfg.training, epochs=1)
    windows, _ = make_windows(scaler.transform(frame.series[0].values), look_back=4)
    before = predict_batches(model, iter([windows]))  # the path `lstmcli predict` takes
    meta = {"config": cfg.model_dump(mode="json"), "scaler": scaler.to_dict()}
    save_bundle(tmp_path / "run", model=model, meta=meta, history=[], force=False)
    loaded = load_bundle(tmp_path / "run").model
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(before, predict_batches(loaded, iter([windows])))


# ---------------------------------------------------------------------------- rollout


def test_rollout_continues_the_frequency(cli, trained, tmp_path):
    out = tmp_path / "f.csv"
    cli("rollout", trained["data"], "--model", trained["run"], "--horizon", "5", "--out", out)
    table = pd.read_csv(out)
    assert table["date"].tolist() == [f"2024-02-{d}" for d in range(10, 15)]
    assert table["y_forecast"].notna().all()


def test_rollout_feeds_predictions_back(trained):
    """Reference: one step at a time, appending each prediction to the window by hand."""
    from lstmcli.api import rollout
    from lstmcli.runs.bundle import load_bundle

    table, _ = rollout(trained["data"], trained["run"], horizon=4)
    bundle = load_bundle(trained["run"])
    x = bundle.scaler.transform(pd.read_csv(trained["data"])[["y"]].to_numpy())[-4:]
    expected = []
    for _ in range(4):
        y = bundle.model(x[None].astype("float32"), training=False).numpy()[0, 0]
        expected.append(bundle.scaler.inverse(y, [0])[0])
        x = np.concatenate([x[1:], y[None]])
    np.testing.assert_allclose(table["y_forecast"], expected, rtol=1e-5)


def test_rollout_long_format_h_rows_per_series(cli, tmp_path):
    data = long_csv(tmp_path / "l.csv")
    cfg = write_yaml(tmp_path / "c.yaml", {**TINY, "training": {**TINY["training"],
                                                                  "epochs": 1}})
    cli("train", data, "--config", cfg, "--out", tmp_path / "run", "-q")
    result = cli("rollout", data, "--model", tmp_path / "run", "-H", "3")
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns[:3]) == ["unique_id", "ds", "y_forecast"]
    assert list(table.columns[3:]) == ["y_lo_80", "y_hi_80", "y_lo_95", "y_hi_95"]
    assert table.groupby("unique_id").size().to_dict() == {"s0": 3, "s1": 3, "s2": 3}
    assert table[table.unique_id == "s2"]["ds"].tolist() == [
        "2024-01-21", "2024-01-22", "2024-01-23"]


def test_rollout_needs_targets_equal_to_features(cli, tmp_path):
    data = wide_csv(tmp_path / "w.csv", columns=("a", "b"))
    doc = {**TINY, "data": {"features": ["a", "b"], "targets": ["a"]},
           "training": {**TINY["training"], "epochs": 1}}
    cli("train", data, "--config", write_yaml(tmp_path / "c.yaml", doc), "--out",
        tmp_path / "run", "-q")
    result = cli("rollout", data, "--model", tmp_path / "run", "-H", "2", code=5)
    assert "every input must be predicted, a calendar feature, or a covariate" in result.stderr
    assert "predict --last" in result.stderr
    table = pd.read_csv(io.StringIO(cli("predict", data, "-m", tmp_path / "run").stdout))
    assert list(table.columns) == ["date", "a_forecast", "a_lo_80", "a_hi_80", "a_lo_95",
                                   "a_hi_95", "a_actual"]


# ----------------------------------------------------------------- shipped configs


@pytest.mark.parametrize("config, data, columns", [
    ("quickstart.yaml", "airline_passengers.csv", ["Month", "Passengers"]),
    ("multivariate.yaml", "tanks.csv", ["timestamp", "pressure", "temperature"]),
])
def test_shipped_configs_run_end_to_end(cli, tmp_path, config, data, columns):
    cfg, csv = REPO / "configs" / config, REPO / "sample_data" / data
    cli("train", csv, "-c", cfg, "-o", tmp_path / "run", "--epochs", "1", "-q")
    table = pd.read_csv(io.StringIO(cli("rollout", csv, "-m", tmp_path / "run", "-H", "3").stdout))
    time, targets = columns[0], columns[1:]  # then the 80% and 95% intervals of each target
    assert list(table.columns[:len(columns)]) == [time, *(f"{t}_forecast" for t in targets)]
    assert len(table) == 3
    assert list(table.columns[len(columns):]) == [f"{t}_{b}_{level}" for level in (80, 95)
                                                  for t in targets for b in ("lo", "hi")]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args, code, fragment", [
    (["window", "{data}", "-c", "{missing}"], 3, "config file not found"),
    (["window", "{missing}", "-c", "{cfg}"], 4, "data file not found"),
    (["predict", "{data}", "-m", "{missing}"], 5, "run directory not found"),
    (["train", "{data}", "-c", "{typo}", "-o", "{tmp}/r"], 3,
     "window.look_bak: unknown key; did you mean 'look_back'?"),
    (["window", "{short}", "-c", "{cfg}"], 4, "no window fits"),
])
def test_user_errors_are_one_line(cli, tmp_path, args, code, fragment):
    paths = {"data": wide_csv(tmp_path / "d.csv"), "missing": tmp_path / "nope",
             "cfg": write_yaml(tmp_path / "c.yaml", TINY), "tmp": tmp_path,
             "typo": write_yaml(tmp_path / "t.yaml", {**TINY, "window": {"look_bak": 3}}),
             "short": wide_csv(tmp_path / "s.csv", n=3)}
    result = cli(*[a.format(**paths) for a in args], code=code)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_debug_adds_the_traceback(cli, tmp_path):
    cfg = write_yaml(tmp_path / "c.yaml", TINY)
    result = cli("window", tmp_path / "nope.csv", "-c", cfg, "--debug", code=4)
    assert "Traceback" in result.stderr and "data file not found" in result.stderr


def test_every_command_has_help_with_an_example(cli):
    for command in ("window", "train", "predict", "rollout", "inspect"):
        assert "Example:" in cli(command, "--help").stdout
