"""The Python API behind the CLI: one function per command.

    from lstmcli import api
    from lstmcli.config import load_config
    summary = api.train("sample_data/airline_passengers.csv",
                        load_config("configs/quickstart.yaml"), out="runs/air")
    forecast, _ = api.rollout("sample_data/airline_passengers.csv", "runs/air", horizon=12)

Data flows one way: CSV -> series store -> scaled arrays -> windows -> model -> run
directory, and run directory + CSV -> predictions in original units with their timestamps.
TensorFlow is imported only by the functions that need it. The work is done in:

    windowset.py    window        the [samples, time_steps, features] windows of a CSV
    training.py     train         config -> store -> layout -> fit -> calibrate -> bundle
    forecasting.py  predict, rollout, and the output table
    rundata.py      the data given to a run: read, checked against the run
    describe.py     inspect       the model a config or run builds, explained
    evaluation.py   backtest, evaluate
"""

from lstmcli.forecast.predict import predict, rollout
from lstmcli.models.describe import describe_config
from lstmcli.options import DATA_OPTIONS, options_spec, with_options
from lstmcli.runs.rundata import feedback_order, no_intervals, read_data, read_future
from lstmcli.training.layouts import first_inputs, sequence_layout, split_windows, stateful_layout
from lstmcli.training.train import check_writable_run, train
from lstmcli.training.windowset import WindowSet, make_window_set, save_window_set

__all__ = [
    "DATA_OPTIONS", "WindowSet", "check_writable_run", "describe_config", "feedback_order",
    "first_inputs", "make_window_set", "no_intervals", "options_spec", "predict",
    "read_data", "read_future", "rollout", "save_window_set", "sequence_layout",
    "split_windows", "stateful_layout", "train", "with_options",
]
