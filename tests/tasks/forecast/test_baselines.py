"""Statistical baselines: naive forecasts by hand, intervals by their coverage of simulated
values, ETS against statsmodels' Holt-Winters and the simple-smoothing variance formula."""

import warnings
from statistics import NormalDist

import numpy as np
import pytest
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from rnnkit.tasks.forecast.baselines import (
    ARIMA,
    ETS,
    Baseline,
    Naive,
    SeasonalNaive,
    make_baselines,
)

ONE_SIGMA = (NormalDist().cdf(-1), 0.5, NormalDist().cdf(1))  # quantiles mean -+ sigma
NINETY = (0.05, 0.95)


def trend_and_season(T, season=12):
    t = np.arange(T)
    return 10 + 0.05 * t + 2 * np.sin(2 * np.pi * t / season)


def test_naive_by_hand():
    q = Naive().forecast(np.array([1.0, 4.0, 2.0, 5.0]), 3, ONE_SIGMA)
    sigma = np.sqrt((9 + 4 + 9) / 3) * np.sqrt([1, 2, 3])  # residuals 3, -2, 3
    assert q.shape == (3, 3)
    np.testing.assert_array_equal(q[:, 1], [5.0, 5.0, 5.0])
    np.testing.assert_allclose(q[:, 0], 5 - sigma, rtol=1e-12)
    np.testing.assert_allclose(q[:, 2], 5 + sigma, rtol=1e-12)


def test_seasonal_naive_by_hand():
    history = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])  # seasonal residuals 3, 3, 3, 4
    q = SeasonalNaive(3).forecast(history, 7, ONE_SIGMA)
    np.testing.assert_array_equal(q[:, 1], [5, 6, 8, 5, 6, 8, 5])  # the last season again
    sigma = np.sqrt((9 + 9 + 9 + 16) / 4) * np.sqrt([1, 1, 1, 2, 2, 2, 3])  # k = (h-1) // 3
    np.testing.assert_allclose(q[:, 2] - q[:, 1], sigma, rtol=1e-12)
    np.testing.assert_allclose(q[:, 1] - q[:, 0], sigma, rtol=1e-12)


@pytest.mark.parametrize(("model", "m"), [(Naive(), 1), (SeasonalNaive(4), 4)])
def test_naive_intervals_cover_90_percent_of_simulated_values(model, m):
    """On the process each forecast assumes (a random walk, one per season phase), the
    5%-95% interval holds about 90% of the next H values at every step h."""
    rng = np.random.default_rng(0)
    paths, T, H = 400, 60, 8
    inside = np.zeros((paths, H), dtype=bool)
    for k in range(paths):
        # y_t = y_{t-m} + e_t: rows are seasons, so a cumsum down the rows, then time order
        y = np.cumsum(rng.normal(size=((T + H) // m, m)), axis=0).ravel()
        q = model.forecast(y[:T], H, NINETY)
        inside[k] = (q[:, 0] <= y[T:]) & (y[T:] <= q[:, 1])
    coverage = inside.mean(axis=0)  # (H,): a wrong sqrt growth shows at the far steps
    assert np.all((coverage > 0.85) & (coverage < 0.95)), coverage


def test_ets_forecasts_a_noiseless_trend_and_season_closely():
    y = trend_and_season(120)
    ets = ETS(12).forecast(y[:96], 24, (0.05, 0.5, 0.95))
    seasonal_naive = SeasonalNaive(12).forecast(y[:96], 24, (0.5,))
    ets_error = np.abs(ets[:, 1] - y[96:]).mean()
    naive_error = np.abs(seasonal_naive[:, 0] - y[96:]).mean()  # misses the trend: 0.9
    assert ets_error < 0.1 * naive_error, (ets_error, naive_error)
    assert np.all(ets[:, 2] - ets[:, 0] < 0.5)  # no noise: a narrow interval


def test_ets_agrees_with_holt_winters_and_the_simple_smoothing_variance():
    """The mean is Holt-Winters' forecast; with level only (ETS(A,N,N)) the variance is
    sigma^2 (1 + (h - 1) alpha^2) (Hyndman et al. 2008, table 6.1)."""
    rng = np.random.default_rng(1)
    y = trend_and_season(48, season=4) + rng.normal(scale=0.3, size=48)
    reference = ExponentialSmoothing(
        y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=4
    ).fit()
    q = ETS(4).forecast(y, 6, ONE_SIGMA)
    np.testing.assert_allclose(q[:, 1], reference.forecast(6), rtol=1e-9)

    level = ExponentialSmoothing(y).fit()
    alpha, mse = level.params["smoothing_level"], level.sse / len(y)
    q = ETS(None, trend=False).forecast(y, 6, ONE_SIGMA)
    np.testing.assert_allclose(q[:, 1], level.forecast(6), rtol=1e-9)
    variance = mse * (1 + np.arange(6) * alpha**2)
    np.testing.assert_allclose((q[:, 2] - q[:, 1]) ** 2, variance, rtol=1e-6)


def test_ets_without_two_seasons_of_history_drops_the_season():
    y = trend_and_season(20)  # under two seasons of 12
    np.testing.assert_array_equal(ETS(12).forecast(y, 5, NINETY), ETS(None).forecast(y, 5, NINETY))


def test_arima_covers_90_percent_of_one_step_forecasts_of_an_ar1():
    rng = np.random.default_rng(2)
    T, trials, phi = 60, 50, 0.6
    filters = list(warnings.filters)
    hits = 0
    for _ in range(trials):
        noise = rng.normal(size=T + 1)
        y = np.zeros(T + 1)
        for t in range(1, T + 1):
            y[t] = phi * y[t - 1] + noise[t]
        lower, upper = ARIMA(order=(1, 0, 0)).forecast(y[:T], 1, NINETY)[0]
        hits += lower <= y[T] <= upper
    assert 0.8 <= hits / trials <= 0.97, hits
    assert warnings.filters == filters  # the fit's warnings were silenced locally only


@pytest.mark.parametrize("model", [Naive(), SeasonalNaive(12), ETS(12), ARIMA()], ids=str)
def test_quantiles_have_one_column_per_probability_in_order(model):
    y = trend_and_season(60) + np.random.default_rng(3).normal(scale=0.5, size=60)
    probabilities = (0.05, 0.25, 0.5, 0.75, 0.95)
    q = model.forecast(y, 14, probabilities)
    assert isinstance(model, Baseline)
    assert q.shape == (14, 5) and q.dtype == np.float64
    assert np.all(np.isfinite(q)) and np.all(np.diff(q, axis=1) >= 0)
    np.testing.assert_array_equal(model.forecast(y, 14, (0.5,))[:, 0], q[:, 2])


@pytest.mark.parametrize(
    ("model", "history", "horizon", "probabilities", "message"),
    [
        (Naive(), np.ones((5, 2)), 3, NINETY, "1-D series"),
        (Naive(), [1.0, np.nan, 2.0], 3, NINETY, "1 NaN or infinite"),
        (Naive(), [1.0], 3, NINETY, "naive needs at least 2 points"),
        (SeasonalNaive(4), np.ones(4), 3, NINETY, "at least 5 points"),
        (ETS(None), np.ones(9), 3, NINETY, "ets needs at least 10"),
        (ARIMA(), np.ones(10), 3, NINETY, "arima needs at least 11"),
        (Naive(), np.ones(5), 0, NINETY, "horizon must be a positive int"),
        (Naive(), np.ones(5), 2.0, NINETY, "horizon must be a positive int"),
        (Naive(), np.ones(5), True, NINETY, "horizon must be a positive int"),
        (Naive(), np.ones(5), 3, (0.95, 0.05), "strictly increasing"),
        (Naive(), np.ones(5), 3, (0.5, 0.5), "strictly increasing"),
        (Naive(), np.ones(5), 3, (0.0, 0.5), "strictly inside \\(0, 1\\)"),
        (Naive(), np.ones(5), 3, (0.5, 1.0), "strictly inside \\(0, 1\\)"),
        (Naive(), np.ones(5), 3, (), "non-empty"),
    ],
)
def test_bad_inputs_are_rejected_with_a_message(model, history, horizon, probabilities, message):
    with pytest.raises(ValueError, match=message):
        model.forecast(history, horizon, probabilities)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SeasonalNaive(None), "needs a season"),
        (lambda: SeasonalNaive(1), "int >= 2"),
        (lambda: ETS(2.5), "int >= 2"),
        (lambda: ARIMA((1, 1)), "three ints"),
        (lambda: ARIMA((1, -1, 0)), "three ints"),
        (lambda: make_baselines(["naive", "theta"], 12), "choose from naive, seasonal_naive"),
        (lambda: make_baselines(["seasonal_naive"], None), "the series has none: set data.season"),
        (lambda: make_baselines(["naive", "naive"], None), "named twice"),
        (lambda: make_baselines("naive", None), "list of baseline names"),
    ],
)
def test_bad_settings_are_rejected_with_a_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_make_baselines_builds_them_in_order():
    made = make_baselines(["arima", "ets", "seasonal_naive", "naive"], 52)
    assert [b.name for b in made] == ["arima", "ets", "seasonal_naive", "naive"]
    assert made == [ARIMA(), ETS(52), SeasonalNaive(52), Naive()]
    assert make_baselines(["naive", "ets"], None) == [Naive(), ETS(None)]
