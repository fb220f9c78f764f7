"""Forecast scores against values worked out by hand on tiny arrays."""

import math

import numpy as np
import pytest

from rnnkit.tasks.forecast.metrics import (
    interval_coverage,
    interval_scale,
    interval_width,
    mase_scale,
    point_scores,
    rolling_scales,
    score_table,
    stretch,
)


@pytest.mark.parametrize(
    ("season", "expected"),
    [(None, 2.0), (1, 2.0), (2, 1.5)],  # |3-1|, |2-3|, |5-2| -> 2; |2-1|, |5-3| -> 1.5
)
def test_mase_scale_by_hand(season, expected):
    assert mase_scale(np.array([1.0, 3.0, 2.0, 5.0]), season) == expected


def test_point_scores_by_hand():
    actual = np.array([[1.0, 2.0], [3.0, 0.0]])  # (K=2 origins, H=2 steps)
    forecast = np.array([[2.0, 2.0], [1.0, 0.0]])  # errors 1, 0, 2, 0
    scores = point_scores(actual, forecast, scale=0.5)
    assert scores["mae"] == 0.75
    assert scores["rmse"] == pytest.approx(math.sqrt(5 / 4))
    # terms 2*1/3, 0, 2*2/4, and 0 for the 0/0 term
    assert scores["smape"] == pytest.approx(100 * (2 / 3 + 1) / 4)
    assert scores["mase"] == 1.5
    assert set(scores) == {"mae", "rmse", "smape", "mase"}


@pytest.mark.parametrize("season", [None, 4, 12])
def test_mase_of_the_in_sample_seasonal_naive_is_one(season):
    train = np.random.default_rng(0).normal(size=60).cumsum()
    m = season or 1
    scores = point_scores(train[m:], train[:-m], mase_scale(train, season))
    assert scores["mase"] == 1.0


def test_smape_is_symmetric_and_bounded_by_200():
    rng = np.random.default_rng(1)
    a, f = rng.normal(size=500), rng.normal(size=500)
    smape = point_scores(a, f, 1.0)["smape"]
    assert smape == pytest.approx(point_scores(f, a, 1.0)["smape"])
    assert 0 < smape <= 200
    assert point_scores(np.array([1.0, -2.0]), np.array([-1.0, 2.0]), 1.0)["smape"] == 200
    assert point_scores(np.zeros(3), np.zeros(3), 1.0)["smape"] == 0  # 0/0 counts 0


def test_interval_coverage_and_width_by_hand():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    lower = np.array([0.0, 2.0, 3.5, 5.0])
    upper = np.array([1.0, 3.0, 4.0, 6.0])
    assert interval_coverage(actual, lower, upper) == 0.5  # bounds count as inside
    assert interval_width(lower, upper, scale=0.5) == pytest.approx((1 + 1 + 0.5 + 1) / 4 / 0.5)


@pytest.mark.parametrize(
    ("train", "season", "message"),
    [
        (np.ones(10), None, "MASE is undefined"),
        (np.tile([1.0, 2.0, 3.0], 4), 3, "repeats itself exactly every 3"),
        (np.arange(4.0), 4, "at least season \\+ 1 = 5 points"),
        (np.ones((3, 2)), None, "1-D series"),
        (np.array([1.0, np.nan, 2.0]), None, "NaN or infinite"),
        (np.arange(5.0), 0, "season must be a positive int"),
        (np.array([]), None, "empty"),
    ],
)
def test_mase_scale_rejects(train, season, message):
    with pytest.raises(ValueError, match=message):
        mase_scale(train, season)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: point_scores(np.ones(3), np.ones(4), 1.0), "same shape.*\\(3,\\).*\\(4,\\)"),
        (lambda: point_scores(np.ones((2, 0)), np.ones((2, 0)), 1.0), "empty"),
        (lambda: point_scores(np.ones(2), np.array([1.0, np.inf]), 1.0), "forecast holds 1"),
        (lambda: point_scores(np.ones(2), np.ones(2), 0.0), "positive finite"),
        (lambda: point_scores(np.ones(2), np.ones(2), None), "from mase_scale"),
        (lambda: interval_coverage(np.ones(2), np.ones(2), np.ones(3)), "same shape"),
        (lambda: interval_coverage(np.ones(2), np.ones(2), np.zeros(2)), "swapped"),
        (lambda: interval_width(np.ones(2), np.ones(2), -1.0), "positive finite"),
        (lambda: score_table({}), "rows is empty"),
        (lambda: score_table({"a": {"mase": 1.0}}, columns="mase"), "sequence of score"),
    ],
)
def test_bad_inputs_are_rejected_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_score_table_prints_every_row_and_marks_the_best():
    rows = {
        "rnnkit": {
            "mae": 1.2345,
            "rmse": 2.0,
            "smape": 10.0,
            "mase": 0.81,
            "coverage": 0.9,
            "width": 3.5,
        },
        "naive": {"mae": 1.5, "rmse": 2.5, "smape": 12.0, "mase": 1.0},
        "seasonal_naive": {"mae": 1.0, "rmse": 1.9, "smape": 9.0, "mase": 0.75},
    }
    lines = score_table(rows).splitlines()
    assert lines[0].split() == ["method", "mae", "rmse", "smape", "mase", "coverage", "width"]
    assert [line.split()[0] for line in lines[1:4]] == list(rows)
    # each column has 4 significant digits of its largest value: 2.500, 12.00, 1.000, 0.9000
    assert lines[1].split() == ["rnnkit", "1.234", "2.000", "10.00", "0.810", "0.9000", "3.500"]
    assert lines[2].split()[-2:] == ["-", "-"]  # naive has no interval
    assert lines[3].split()[:2] == ["seasonal_naive", "*"]
    assert "*" not in lines[1] + lines[2]
    assert lines[4] == "* lowest mase"
    assert len({len(line) for line in lines[:4]}) == 1  # aligned: every line equally wide


def test_score_table_columns_and_no_mase():
    rows = {"a": {"mae": 1.0}, "b": {"mae": 2.0, "rmse": 3.0}}
    lines = score_table(rows, columns=("rmse", "mae")).splitlines()
    assert [line.split() for line in lines] == [
        ["method", "rmse", "mae"],
        ["a", "-", "1.000"],
        ["b", "3.000", "2.000"],
    ]
    assert "*" not in score_table(rows)  # nothing to mark without a mase


def test_interval_scale_by_hand_and_the_coverage_it_buys():
    middle, lower, upper = np.zeros(4), -np.ones(4), 2 * np.ones(4)
    actual = np.array([0.5, -2.0, 3.0, 0.1])
    # Factors each value needs: 0.5 / 2, 2 / 1, 3 / 2, 0.1 / 2 -> sorted 0.05, 0.25, 1.5, 2.
    # level 0.5: the ceil(5 * 0.5) = 3rd smallest.
    assert interval_scale(actual, lower, middle, upper, 0.5) == 1.5
    q = stretch(np.stack([lower, middle, upper], axis=-1), 1.5)
    np.testing.assert_allclose(q[0], [-1.5, 0.0, 3.0])
    assert interval_coverage(actual, q[..., 0], q[..., 2]) >= 0.5


def test_interval_scale_calibrates_intervals_that_are_too_narrow():
    calibration, later = np.random.default_rng(0).normal(size=(2, 2500))
    zeros, half = np.zeros(2500), 1.6448536 * 0.5  # a 90% normal interval at half its width
    s = interval_scale(calibration, zeros - half, zeros, zeros + half, 0.9)
    assert s == pytest.approx(2.0, rel=0.08)
    assert 0.88 <= interval_coverage(later, zeros - s * half, zeros + s * half) <= 0.92


def test_interval_scale_refuses_a_bad_level():
    with pytest.raises(ValueError, match="level must be in"):
        interval_scale(np.ones(2), np.zeros(2), np.ones(2), 2 * np.ones(2), 1.0)


def test_rolling_scales_use_only_errors_known_before_each_origin_step_by_step():
    # Validation windows at origins 0..3 needing 1, 2, 3, 4 at both steps; test forecasts
    # at origins 10, 12, 14 needing 10, 20, 30 at step 0 and 100, 200, 300 at step 1.
    val = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    test = np.array([[10.0, 100.0], [20.0, 200.0], [30.0, 300.0]])
    scales = rolling_scales(val, np.arange(4), test, np.array([10, 12, 14]), 0.5, recent=3)
    # Origin 10 knows the validation needs alone; the latest 3 are 2, 3, 4: their median 3.
    np.testing.assert_array_equal(scales[0], [3.0, 3.0])
    # Origin 12: step 0 of origin 10 (row 10) is known, its step 1 (row 11) too.
    np.testing.assert_array_equal(scales[1], [4.0, 4.0])  # median of (3, 4, 10) and (3, 4, 100)
    # Origin 14: rows 10..13 are known: step 0 gives (4, 10, 20), step 1 (4, 100, 200).
    np.testing.assert_array_equal(scales[2], [10.0, 100.0])
    # After the series, every need is known: the latest three of each step.
    np.testing.assert_array_equal(scales[3], [20.0, 200.0])
    # With recent=1 the factor is the latest known need itself.
    edge = rolling_scales(val, np.arange(4), test[:1], np.array([10]), 0.5, recent=1)
    np.testing.assert_array_equal(edge, [[4.0, 4.0], [10.0, 100.0]])
