"""Windows and scaling: exact values, relative targets, and the way back to the data's units."""

import numpy as np
import pytest

from rnnkit.data.windows import SeriesScaler, windows


def test_windows_hold_the_rows_before_and_from_each_origin():
    z = np.arange(20, dtype=float).reshape(10, 2)  # row t = (2t, 2t + 1)
    cov = np.arange(12, dtype=float).reshape(12, 1) * 10  # two rows past the data
    batch, origin = windows(z, cov, np.array([3, 8]), 3, 4, relative=False)
    assert batch["inputs"].shape == (2, 3, 3)
    assert batch["inputs"][0, :, 0].tolist() == [0, 2, 4]  # rows 0..2, target column
    assert batch["inputs"][0, :, 2].tolist() == [0, 10, 20]  # their covariates
    assert batch["targets"][0, :, 0].tolist() == [6, 8, 10, 12]  # rows 3..6
    assert batch["future"][1, :, 0].tolist() == [80, 90, 100, 110]  # rows 8..11
    assert np.isnan(batch["targets"][1, 2:].numpy()).all()  # rows 10, 11 are after the data
    assert origin.tolist() == [4, 14]


def test_relative_windows_are_changes_from_the_origin():
    z = np.arange(10, dtype=float)[:, None] ** 2
    batch, origin = windows(z, np.zeros((10, 0)), np.array([4]), 3, 2, relative=True)
    assert origin.tolist() == [9]
    assert batch["inputs"][0, :, 0].tolist() == [1 - 9, 4 - 9, 0]
    assert batch["targets"][0, :, 0].tolist() == [16 - 9, 25 - 9]


def test_windows_refuse_origins_without_enough_history_or_covariates():
    z = np.zeros((10, 1))
    with pytest.raises(ValueError, match="origins"):
        windows(z, np.zeros((10, 0)), np.array([2]), 3, 2, relative=False)
    with pytest.raises(ValueError, match="covariates cover 10 rows"):
        windows(z, np.zeros((10, 1)), np.array([10]), 3, 2, relative=False)


@pytest.mark.parametrize(("log", "relative"), [(False, False), (False, True), (True, True)])
def test_scaled_forecasts_come_back_in_the_data_units(log, relative):
    rng = np.random.default_rng(0)
    values = np.column_stack([np.exp(rng.normal(0, 0.1, 50).cumsum()) * 100, rng.normal(size=50)])
    scaler = SeriesScaler.fit(values[:30], log=log, relative=relative)
    z = scaler.transform(values)
    batch, origin = windows(z, np.zeros((50, 0)), np.array([35, 40]), 5, 3, relative)
    back = scaler.target_values(batch["targets"][..., 0].double().numpy(), origin[:, None])
    expected = values[[[35, 36, 37], [40, 41, 42]], 0]
    np.testing.assert_allclose(back, expected, rtol=1e-5)
    assert SeriesScaler.from_dict(scaler.to_dict()) == scaler


def test_relative_scaling_is_the_size_of_one_step_changes():
    values = np.random.default_rng(1).normal(size=(40, 2)).cumsum(axis=0)
    levels = SeriesScaler.fit(values, relative=False)
    np.testing.assert_allclose(levels.center, values.mean(axis=0))
    np.testing.assert_allclose(levels.scale, values.std(axis=0))
    relative = SeriesScaler.fit(values, relative=True)
    assert relative.center == [0.0, 0.0]
    steps = np.diff(values, axis=0)  # their root mean square: a trend counts
    np.testing.assert_allclose(relative.scale, np.sqrt((steps**2).mean(axis=0)))


def test_every_value_column_of_a_relative_window_starts_from_its_origin():
    z = np.column_stack([np.arange(10.0), 100 + np.arange(10.0) * 2])
    batch, origin = windows(z, np.zeros((10, 0)), np.array([5]), 2, 2, relative=True)
    assert batch["inputs"][0].tolist() == [[-1, -2], [0, 0]]
    assert batch["targets"][0].tolist() == [[1, 2], [2, 4]]
    assert origin.tolist() == [4]


def test_log_needs_a_positive_target():
    with pytest.raises(ValueError, match="transform=log needs a positive target"):
        SeriesScaler.fit(np.array([[1.0], [0.0], [2.0]]), log=True)
