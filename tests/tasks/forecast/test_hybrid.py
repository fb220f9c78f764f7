"""The hybrid strategy (smoothing for level and season, the network for the rest) and the
folds chosen from a series' length."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.data.windows import SeriesScaler
from rnnkit.tasks import runner
from rnnkit.tasks.forecast.hybrid import (
    Decomposed,
    Smoothing,
    fit_smoothing,
    network_windows,
    swing_grows,
)
from rnnkit.tasks.forecast.task import (
    BacktestConfig,
    DataConfig,
    ForecastConfig,
    choose_layout,
    forecast_values,
)
from rnnkit.tasks.forecast.use import forecast

SEASON = np.array([0.8, 0.9, 1.0, 1.3, 1.2, 0.8])  # mean 1


class Unchanged(torch.nn.Module):
    """A network that forecasts no change from the level: all quantiles 0."""

    def predict(self, inputs, future, levels, generator=None):
        return torch.zeros(inputs.shape[0], future.shape[1], len(levels))


@pytest.mark.parametrize("kind", ["multiplicative", "additive"])
def test_a_level_with_a_fixed_season_is_recomposed_exactly(kind):
    T, m, H, L = 60, 6, 6, 12
    y = (
        40 * np.tile(SEASON, T // m)
        if kind == "multiplicative"
        else 40 + 5 * np.tile(SEASON, T // m)
    )
    decomposed = Decomposed.of(Smoothing(kind, alpha=0.3, gamma=0.2, season=m), y)
    np.testing.assert_allclose(decomposed.level, y.mean(), rtol=1e-12)
    if kind == "multiplicative":
        with pytest.raises(ValueError, match="this series has values <= 0"):
            Decomposed.of(decomposed.smoothing, y - 40)
    values = y[:, None].copy()
    values[:, 0] = decomposed.deseasonalised(y)
    scaler = SeriesScaler.fit(values[:40], log=kind == "multiplicative", relative=True)
    origins = np.arange(L, T - H + 1)
    batch, origin = network_windows(scaler.transform(values), np.zeros((T, 0)), origins, L, H,
                                    scaler, decomposed)  # fmt: skip
    assert batch["targets"].abs().max() < 1e-6  # nothing is left for the network to learn
    config = ForecastConfig()
    forecasts = forecast_values(Unchanged(), scaler, batch, origin, config,
                                ahead=decomposed.ahead(origins, H))  # fmt: skip
    actual = y[origins[:, None] + np.arange(H)]
    for q in range(forecasts.shape[-1]):
        np.testing.assert_allclose(forecasts[..., q], actual, rtol=1e-6)


def test_the_smoothing_matches_statsmodels_holt_winters():
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    rng = np.random.default_rng(0)
    y = (50 + np.arange(72) * 0.3) * np.tile(SEASON, 12) + rng.normal(0, 1, 72)
    smoothing = Smoothing("multiplicative", alpha=0.4, gamma=0.15, season=6)
    level0, indices = smoothing.initial(y)
    level, seasonal = smoothing.run(y)
    fitted = ExponentialSmoothing(
        y, seasonal="mul", seasonal_periods=6, initialization_method="known",
        initial_level=level0, initial_seasonal=indices,
    ).fit(smoothing_level=0.4, smoothing_seasonal=0.15, optimized=False).fittedvalues  # fmt: skip
    one_step = np.concatenate([[level0], level[:-1]]) * seasonal[:72]
    np.testing.assert_allclose(one_step, fitted, rtol=1e-9)


def test_the_kind_is_chosen_on_the_training_part():
    t = np.arange(96)
    rng = np.random.default_rng(1)
    growing = (20 + 2 * t) * np.tile(SEASON, 16) * np.exp(rng.normal(0, 0.01, 96))
    steady = 200 + 30 * np.tile(SEASON - 1, 16) + rng.normal(0, 1, 96) + 0.5 * t
    assert fit_smoothing(growing, 6).kind == "multiplicative"
    assert fit_smoothing(steady, 6).kind == "additive"
    assert fit_smoothing(steady - 300, 6).kind == "additive"  # not positive: additive only
    with pytest.raises(ValueError, match="multiplicative, which needs a positive series"):
        fit_smoothing(steady - 300, 6, "multiplicative")
    assert fit_smoothing(growing[:10], 6).season is None  # under two seasons: no season
    # What the report's hint for data.transform=log rests on:
    assert swing_grows(growing, 6) and not swing_grows(steady, 6)
    assert not swing_grows(growing, None) and not swing_grows(-growing, 6)


def test_a_hybrid_run_trains_backtests_and_forecasts(tmp_path):
    t = np.arange(120)
    y = (30 + 0.4 * t) * np.tile(SEASON, 20)
    csv = tmp_path / "s.csv"
    dates = pd.date_range("2000-01-01", periods=len(y), freq="MS")
    pd.DataFrame({"date": dates, "value": y}).to_csv(csv, index=False)
    out, result = runner.train("forecast", tmp_path / "run", quiet=True, overrides=[
        f"data.source={json.dumps(str(csv))}", "model.strategy=hybrid", "data.season=6",
        "model.hidden_size=8", "model.ensemble=1", "train.max_steps=40",
        'backtest.baselines=["naive", "ets"]',
    ])  # fmt: skip
    results = result.results
    assert results["folds"] == 10 and results["horizon"] == 6
    saved = json.loads((out / "series.json").read_text())
    assert saved["hybrid"]["kind"] == "multiplicative"
    history = json.loads((out / "history.json").read_text())
    assert len(history["values"]) == 120  # the smoothing runs from the series' start
    # The trend and season are the smoothing's: even a barely trained network recomposes
    # forecasts near the series, far better than repeating the last value.
    assert results["table"]["rnnkit"]["mase"] < 0.5 * results["table"]["naive"]["mase"]
    fc = runner.load_run(out)
    own, again = forecast(fc), forecast(fc, str(csv))
    assert [r["value"] for r in own["forecast"]] == [r["value"] for r in again["forecast"]]
    assert own["forecast"][0]["lower"] < own["forecast"][0]["value"] < own["forecast"][0]["upper"]


def test_targets_a_season_or_more_ahead_use_the_indices_known_at_the_origin():
    """With H > m, a training target is deseasonalised by the index its forecast is
    recomposed with, so a level times a season is still reproduced exactly."""
    T, m, H, L = 72, 6, 12, 12
    rng = np.random.default_rng(0)
    y = 40 * np.tile(SEASON, T // m) * np.exp(rng.normal(0, 0.05, T))  # the indices move
    decomposed = Decomposed.of(Smoothing("multiplicative", alpha=0.3, gamma=0.4, season=m), y)
    values = y[:, None].copy()
    values[:, 0] = decomposed.deseasonalised(y)
    scaler = SeriesScaler.fit(values[:48], log=True, relative=True)
    origins = np.arange(L, T - H + 1)
    batch, origin = network_windows(scaler.transform(values), np.zeros((T, 0)), origins, L, H,
                                    scaler, decomposed, y)  # fmt: skip
    # A network that predicts each target exactly recomposes each value exactly.
    perfect = batch["targets"][..., 0].double().numpy()[..., None].repeat(3, axis=-1)
    values_back = decomposed.ahead(origins, H).apply(
        scaler.target_values(perfect, origin[:, None, None])
    )
    np.testing.assert_allclose(values_back[..., 1], y[origins[:, None] + np.arange(H)], rtol=1e-5)


def _layout(T, **data):
    return choose_layout(T, DataConfig(**data), BacktestConfig(), season=12)


def test_the_folds_fit_the_series_length():
    long = _layout(400)
    assert len(long.test_origins) == 10 and np.diff(long.test_origins).tolist() == [12] * 9
    assert long.input_length == 24 and "10 origins 12 steps apart" in long.chosen
    short = _layout(60)  # a 5-year monthly series: origins a step apart, a shorter input
    assert len(short.test_origins) >= 3 and np.diff(short.test_origins).tolist()[0] == 1
    assert short.input_length == 12 and short.test_origins[-1] == 60 - 12
    with pytest.raises(
        ValueError,
        match=r"^the series has 20 steps, too few for 3 backtest .*"
        r"\(that takes at least 59\)",
    ):
        _layout(20)
    fixed = choose_layout(400, DataConfig(), BacktestConfig(folds=4), season=12)
    assert len(fixed.test_origins) == 4 and fixed.chosen == ""
    with pytest.raises(ValueError, match="backtest.folds must be a positive int, got 0"):
        choose_layout(400, DataConfig(), BacktestConfig(folds=0), season=12)


@pytest.mark.parametrize("n", [3, 4])
def test_the_ensemble_forecast_is_the_median_of_its_members(n):
    from rnnkit.models.forecaster import Forecaster
    from rnnkit.tasks.forecast.ensemble import Ensemble

    members = []
    for seed in range(n):
        torch.manual_seed(seed)
        members.append(Forecaster(2, 5, num_values=1, hidden_size=8).eval())
    inputs, future, levels = torch.randn(7, 12, 2), torch.randn(7, 5, 1), (0.05, 0.5, 0.95)
    each = np.stack([m.predict(inputs, future, levels).numpy() for m in members])
    together = Ensemble(members).predict(inputs, future, levels).numpy()
    np.testing.assert_allclose(together, np.median(each, axis=0), rtol=1e-6)


def test_an_ensemble_run_trains_its_members_and_uses_them(tmp_path):
    csv = tmp_path / "s.csv"
    t = np.arange(96)
    values = 20 + np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.1, 96)
    dates = pd.date_range("2000-01-01", periods=96, freq="MS")
    pd.DataFrame({"date": dates, "value": values}).to_csv(csv, index=False)
    out, result = runner.train("forecast", tmp_path / "run", quiet=True, overrides=[
        f"data.source={json.dumps(str(csv))}", "model.ensemble=3", "model.hidden_size=8",
        "train.max_steps=20", 'backtest.baselines=["naive"]', "backtest.folds=2",
    ])  # fmt: skip
    assert result.results["ensemble"] == 3 and result.results["ensemble_seconds"] > 0
    assert "the median of 3 networks" in result.results["report"]
    for k in (2, 3):
        assert (out / "members" / str(k) / "model.safetensors").exists()
    fc = runner.load_run(out)
    assert len(fc.model.members) == 3
    # By default the members read all, half and three quarters of each window's input.
    L = json.loads((out / "series.json").read_text())["input_length"]
    assert [m.lookback for m in fc.model.members] == [None, round(L / 2), round(3 * L / 4)]
    assert len(forecast(fc)["forecast"]) == 12


def test_an_ensemble_of_none_is_refused(tmp_path):
    with pytest.raises(ValueError, match="model.ensemble must be at least 1"):
        runner.train("forecast", tmp_path / "run", quiet=True,
                     overrides=["data.source=sunspots", "model.ensemble=0"])  # fmt: skip
    assert not (tmp_path / "run").exists()
