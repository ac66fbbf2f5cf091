"""Windows equal the tutorials' create_dataset / split_x, and are views, not copies."""

import numpy as np
import pytest

from conftest import create_dataset
from lstmcli.training.windows import input_windows, make_windows, n_windows, window_starts


def split_x(seq, size):
    """The other tutorial helper: every run of `size` consecutive values."""
    return np.array([seq[i:i + size] for i in range(len(seq) - size + 1)])


@pytest.mark.parametrize("look_back", [1, 3, 7])
def test_equals_create_dataset_and_keeps_its_dropped_last_window(look_back):
    series = np.random.default_rng(look_back).normal(size=(50, 1))
    X, y = make_windows(series, look_back=look_back)
    ref_x, ref_y = create_dataset(series, look_back)
    assert X.shape == (50 - look_back, look_back, 1) and y.shape == (50 - look_back, 1, 1)
    # create_dataset stops one window early; every window it does make is identical
    np.testing.assert_array_equal(X[:-1, :, 0], ref_x)
    np.testing.assert_array_equal(y[:-1, 0, 0], ref_y)
    # the last window is the one its `- 1` drops: the final look_back values -> the last value
    np.testing.assert_array_equal(X[-1, :, 0], series[-look_back - 1:-1, 0])
    assert y[-1, 0, 0] == series[-1, 0]


@pytest.mark.parametrize("look_back", [2, 4])
def test_equals_split_x(look_back):
    seq = np.arange(1, 11, dtype=float)
    ref = split_x(seq, look_back + 1)
    X, y = make_windows(seq[:, None], look_back=look_back)
    np.testing.assert_array_equal(X[:, :, 0], ref[:, :look_back])
    np.testing.assert_array_equal(y[:, 0, 0], ref[:, look_back])


def test_horizon_stride_and_column_selection():
    values = np.arange(20.0).reshape(10, 2)  # rows 0..9, columns a=2r, b=2r+1
    X, y = make_windows(values, look_back=3, horizon=2, stride=2, feature_idx=[0, 1],
                        target_idx=[1])
    assert n_windows(10, look_back=3, horizon=2, stride=2) == 3
    assert X.shape == (3, 3, 2) and y.shape == (3, 2, 1)
    np.testing.assert_array_equal(window_starts(10, look_back=3, horizon=2, stride=2), [0, 2, 4])
    np.testing.assert_array_equal(X[1], values[2:5])
    np.testing.assert_array_equal(y[1, :, 0], values[5:7, 1])
    np.testing.assert_array_equal(y[2, :, 0], values[7:9, 1])


def test_windows_are_views_of_the_series():
    values = np.arange(30.0).reshape(15, 2)
    X, y = make_windows(values, look_back=5)
    assert np.shares_memory(X, values) and np.shares_memory(y, values)
    assert X.base is not None and X.nbytes > values.nbytes  # a view can't own that much


def test_too_short_gives_no_windows():
    X, y = make_windows(np.ones((3, 1)), look_back=3)
    assert X.shape == (0, 3, 1) and y.shape == (0, 1, 1)
    assert input_windows(np.ones((3, 1)), look_back=3).shape == (1, 3, 1)
