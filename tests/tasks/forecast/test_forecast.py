"""Forecasting end to end on series the tests generate: train, backtest, forecast, refuse."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks import runner
from rnnkit.tasks.forecast.backtest import verdict
from rnnkit.tasks.forecast.metrics import interval_needs, rolling_scales
from rnnkit.tasks.forecast.task import (
    CALIBRATION_WINDOWS,
    BacktestConfig,
    DataConfig,
    ForecastConfig,
    ModelConfig,
    calibrate_intervals,
    model_of,
    predict_scaled,
    prepare,
)
from rnnkit.tasks.forecast.use import forecast
from rnnkit.tasks.runner import load_run

SMALL = ["model.hidden_size=16", "model.ensemble=1", "train.quiet=true"]
FEW_STEPS = [*SMALL, "train.epochs=4"]


def write_series(path, values, start="2000-01-01", freq="MS", columns=("value",)):
    values = np.asarray(values, dtype=float).reshape(len(values), -1)
    frame = pd.DataFrame(values, columns=list(columns))
    frame.insert(0, "date", pd.date_range(start, periods=len(frame), freq=freq))
    frame.to_csv(path, index=False)
    return path


def seasonal(T=240, seed=0):
    """A monthly series: trend, a yearly season and noise."""
    t = np.arange(T)
    noise = np.random.default_rng(seed).normal(0, 0.3, T)
    return 50 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + noise


@pytest.fixture(scope="module")
def seasonal_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seasonal")
    csv = write_series(folder / "monthly.csv", seasonal())
    out, result = runner.train("forecast", folder / "run", overrides=[
        f"data.source={json.dumps(str(csv))}", "backtest.folds=4", *SMALL, "train.max_steps=600",
    ], quiet=True)  # fmt: skip
    return out, result.results, csv


def test_the_backtest_scores_every_method_on_the_same_values(seasonal_run):
    out, results, _ = seasonal_run
    assert list(results["table"]) == ["rnnkit", "naive", "seasonal_naive", "ets", "arima"]
    assert results["folds"] == 4 and results["horizon"] == 12
    for name in ("backtest.png", "backtest.csv", "series.json", "history.json", "results.json"):
        assert (out / name).exists()
    rows = pd.read_csv(out / "backtest.csv")
    assert len(rows) == 4 * 12 and {"actual", "rnnkit_lower", "naive"} <= set(rows.columns)
    mae = (rows["rnnkit"] - rows["actual"]).abs().mean()
    assert mae == pytest.approx(results["table"]["rnnkit"]["mae"], rel=1e-4)
    saved = json.loads((out / "series.json").read_text())
    # One factor per step, for a forecast after the series (forecast_use reads them).
    assert saved["interval_scale"] == results["interval_scale"]
    assert len(saved["interval_scale"]) == 12 and min(saved["interval_scale"]) > 0
    # A clear season: the network must beat repeating the last value by a margin.
    assert results["table"]["rnnkit"]["mase"] < 0.7 * results["table"]["naive"]["mase"]
    assert "The network beats the naive forecast" in results["report"]


def test_the_test_window_never_reaches_scaling_or_training(tmp_path):
    # The same series three times, the others with the values from the first and from the
    # second origin on replaced by huge ones: the scaling, the trained weights and the
    # forecasts with their intervals from every origin before the change must not change
    # (the intervals are calibrated on errors whose values were seen before each origin).
    # A run of missing values across the cut must not carry test values back into training.
    values = seasonal(T=200)
    train_end = 200 - 12 - 2 * 12  # three folds of 12 steps: the first origin
    values[train_end - 2 : train_end + 1] = np.nan
    after_first, after_second = values.copy(), values.copy()
    after_first[train_end + 1 :] = 1e6
    after_second[train_end + 12 :] = 1e6
    runs = []
    for name, series in (("clean", values), ("first", after_first), ("second", after_second)):
        csv = write_series(tmp_path / f"{name}.csv", series)
        out, result = runner.train("forecast", tmp_path / name, overrides=[
            f"data.source={json.dumps(str(csv))}", "backtest.folds=3", "data.missing=interpolate",
            "backtest.baselines=[\"naive\"]", *FEW_STEPS,
        ], quiet=True)  # fmt: skip
        assert result.results["train_steps"] == train_end
        runs.append(out)
    saved = [json.loads((out / "series.json").read_text()) for out in runs]
    assert saved[0]["scaler"] == saved[1]["scaler"] == saved[2]["scaler"]
    weights = [(out / "model.safetensors").read_bytes() for out in runs]
    assert weights[0] == weights[1] == weights[2]
    tables = [pd.read_csv(out / "backtest.csv") for out in runs]
    origins = tables[0].origin.unique()
    shown = ["rnnkit", "rnnkit_lower", "rnnkit_upper"]

    def at(table, k):
        return table[table.origin == origins[k]][shown].to_numpy()

    for table in tables[1:]:
        np.testing.assert_allclose(at(table, 0), at(tables[0], 0), rtol=1e-6)
    np.testing.assert_allclose(at(tables[2], 1), at(tables[0], 1), rtol=1e-6)
    assert not np.allclose(at(tables[1], 1), at(tables[0], 1))  # the change is seen later


@pytest.mark.parametrize(
    ("strategy", "head"),
    [("seq2seq", "gaussian"), ("direct", "quantile"), ("recursive", "gaussian")],
)
def test_90_percent_intervals_cover_about_90_percent_of_a_known_process(tmp_path, strategy, head):
    # AR(1) with Gaussian noise: x_t = 0.7 x_{t-1} + e_t. A calibrated 90% interval
    # covers about 90% of the values it has not seen.
    rng = np.random.default_rng(3)
    x = np.zeros(1600)
    for t in range(1, len(x)):
        x[t] = 0.7 * x[t - 1] + rng.normal()
    csv = write_series(tmp_path / "ar.csv", x + 10, freq="D")
    _, result = runner.train("forecast", tmp_path / "run", overrides=[
        f"data.source={json.dumps(str(csv))}", "data.horizon=2", "data.input_length=16",
        "data.season=none", "backtest.folds=300", "backtest.stride=1",
        "backtest.baselines=[\"naive\"]", *SMALL, "train.epochs=6",
        f"model.strategy={strategy}", f"model.head={head}", "model.num_samples=100",
    ], quiet=True)  # fmt: skip
    coverage = result.results["table"]["rnnkit"]["coverage"]
    assert 0.84 <= coverage <= 0.96


def test_calibration_widens_intervals_that_under_cover_unseen_noise(tmp_path):
    # AR(1) whose noise triples just before the validation windows: the network's Gaussian
    # head learns the calm training windows' spread, so its raw 90% intervals cover far less
    # of the noisier test values; stretched by the latest errors they cover about 90%.
    rng = np.random.default_rng(3)
    T, folds, shift = 800, 150, 540  # train_end = 649; validation origins from about 553
    x = np.zeros(T)
    for t in range(1, T):
        x[t] = 0.7 * x[t - 1] + rng.normal() * (1 if t < shift else 3)
    csv = write_series(tmp_path / "ar.csv", x + 10, freq="D")
    runs = {}
    for calibrate in ("false", "true"):
        out, result = runner.train("forecast", tmp_path / calibrate, overrides=[
            f"data.source={json.dumps(str(csv))}", "data.horizon=2", "data.input_length=16",
            "data.season=none", f"backtest.folds={folds}", "backtest.stride=1",
            "backtest.baselines=[\"naive\"]", *SMALL, "train.epochs=3",
            f"model.calibrate={calibrate}",
        ], quiet=True)  # fmt: skip
        runs[calibrate] = out, result.results
    (raw_out, raw), (cal_out, cal) = runs["false"], runs["true"]
    assert raw["interval_scale"] == [1.0, 1.0] and min(cal["interval_scale"]) > 2
    assert raw["table"]["rnnkit"]["coverage"] < 0.7  # raw: clearly below the 90% asked for
    assert 0.84 <= cal["table"]["rnnkit"]["coverage"] <= 0.96
    assert "stretched by" in cal["report"] and "stretched by" not in raw["report"]
    # The same training: only the intervals differ, the point forecasts are the same.
    rows = [pd.read_csv(out / "backtest.csv") for out in (raw_out, cal_out)]
    np.testing.assert_allclose(rows[0]["rnnkit"], rows[1]["rnnkit"], rtol=1e-6)
    assert (rows[1]["rnnkit_upper"] - rows[1]["rnnkit_lower"]).mean() > 2 * (
        rows[0]["rnnkit_upper"] - rows[0]["rnnkit_lower"]
    ).mean()


def test_on_a_random_walk_the_report_does_not_claim_skill(tmp_path):
    # Log prices that follow a random walk: nothing beats the last price but luck.
    rng = np.random.default_rng(7)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 700)))
    csv = write_series(tmp_path / "prices.csv", prices, freq="B", columns=("Close",))
    _, result = runner.train("forecast", tmp_path / "run", overrides=[
        f"data.source={json.dumps(str(csv))}", "data.transform=log", "data.horizon=10",
        "backtest.baselines=[\"naive\"]", *FEW_STEPS,
    ], quiet=True)  # fmt: skip
    table = result.results["table"]
    assert table["rnnkit"]["mase"] / table["naive"]["mase"] > 0.95  # no real skill to find
    assert "The network does NOT" in result.results["verdict"][0]


def test_the_verdict_says_plainly_which_way_the_numbers_go():
    table = {"rnnkit": {"mase": 1.10, "coverage": 0.85}, "naive": {"mase": 1.0},
             "ets": {"mase": 0.9}}  # fmt: skip
    lines = verdict(table, 0.9, {"naive": 0.01, "ets": 0.01}, origins=10)
    assert lines[0].startswith("The network does NOT beat the naive forecast")
    assert "10% higher (paired t-test over 10 origins: p = 0.01)" in lines[0]
    assert "ets is better than the network" in lines[1]
    assert "90% prediction intervals covered 85.0%" in lines[2]
    table["rnnkit"]["mase"] = 0.5
    lines = verdict(table, 0.9, {"naive": 0.001, "ets": 0.02}, origins=10)
    assert "beats the naive forecast" in lines[0] and "50% lower" in lines[0]
    assert lines[1].startswith("It also beats the best other baseline, ets")


def test_a_lower_error_within_chance_is_not_called_skill():
    table = {"rnnkit": {"mase": 0.97}, "naive": {"mase": 1.0}, "ets": {"mase": 0.98}}
    lines = verdict(table, 0.9, {"naive": 0.4, "ets": 0.7}, origins=10)
    assert lines[0].startswith("The network does NOT show skill over the naive forecast")
    assert "within chance" in lines[0] and "p = 0.4" in lines[0]
    assert "not better beyond chance" in lines[1]
    table["rnnkit"]["mase"] = 1.02
    lines = verdict(table, 0.9, {"naive": 0.6, "ets": 0.5}, origins=10)
    assert lines[0].startswith("The network does NOT beat the naive forecast")
    assert lines[1].startswith("ets scored a lower MASE than the network, a difference within")


def test_forecast_a_run_from_the_cli(seasonal_run, tmp_path, capsys):
    out, _, csv = seasonal_run
    fc = load_run(out)
    result = forecast(fc, str(csv), horizon=6)
    assert [row["date"] for row in result["forecast"][:2]] == ["2020-01-01", "2020-02-01"]
    assert all(r["lower"] <= r["value"] <= r["upper"] for r in result["forecast"])
    plot = tmp_path / "out.png"
    assert main(["forecast", str(out), "--data", str(csv), "--horizon", "6", "--plot",
                 str(plot), "--json"]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["forecast"]) == 6 and plot.stat().st_size > 1000
    assert main(["forecast", str(out), "--horizon", "13"]) == 2
    assert "forecasts 1 to 12 steps" in capsys.readouterr().err


def test_forecast_refuses_data_with_other_columns(seasonal_run, tmp_path, capsys):
    out, _, _ = seasonal_run
    other = write_series(tmp_path / "other.csv", np.ones((60, 2)), columns=("a", "b"))
    assert main(["forecast", str(out), "--data", str(other)]) == 2
    assert "data.target" in capsys.readouterr().err
    short = write_series(tmp_path / "short.csv", seasonal(T=20))
    assert main(["forecast", str(out), "--data", str(short)]) == 2
    assert "reads the last 24" in capsys.readouterr().err


def bad_files():
    good = pd.DataFrame({"date": pd.date_range("2001-01-01", periods=80, freq="D"),
                         "value": np.arange(80.0)})  # fmt: skip
    backwards = good.copy()
    backwards.loc[[10, 11], "date"] = backwards.loc[[11, 10], "date"].to_numpy()
    duplicate = good.copy()
    duplicate.loc[20, "date"] = duplicate.loc[19, "date"]
    gap = good.copy()
    gap.loc[30:39, "value"] = np.nan
    text = good.astype({"value": object})
    text.loc[5, "value"] = "n/a?"
    return {
        "backwards": (backwards, "sort"),
        "duplicate": (duplicate, "same date"),
        "nan-run": (gap, "missing"),
        "short": (good.head(12), "too few for 3 backtest origins of 7 steps"),
        "not-numeric": (text, "not a finite number"),
    }


@pytest.mark.parametrize("name", list(bad_files()))
def test_bad_series_are_one_line_errors_and_write_nothing(name, tmp_path, capsys):
    frame, message = bad_files()[name]
    csv = tmp_path / "series.csv"  # the file name must not be what the message is tested for
    frame.to_csv(csv, index=False)
    out = tmp_path / "run"
    code = main(["train", "forecast", "--data", str(csv), "--out", str(out), "--quiet",
                 "data.horizon=7"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err.lower() and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (['backtest.baselines=["theta"]'], "theta"),
        (["data.season=200", "data.input_length=8"], "steps of training data"),
    ],
)
def test_backtest_settings_fail_before_training(tmp_path, capsys, overrides, message):
    csv = write_series(tmp_path / "s.csv", seasonal(T=120))
    out = tmp_path / "run"
    code = main(["train", "forecast", "--data", str(csv), "--out", str(out), "data.horizon=4",
                 *overrides, *FEW_STEPS])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("strategy", ["seq2seq", "direct", "recursive"])
def test_cli_train_takes_target_horizon_and_calendar_covariates(tmp_path, capsys, strategy):
    prices = 100 + np.cumsum(np.random.default_rng(1).normal(0, 1, (300, 2)), axis=0)
    csv = write_series(tmp_path / "p.csv", prices, freq="B", columns=("Open", "Close"))
    code = main(["train", "forecast", "--data", str(csv), "--target", "Close", "--horizon",
                 "5", "--out", str(tmp_path / "run"), "backtest.baselines=[\"naive\"]",
                 'data.calendar=["dayofweek"]', f"model.strategy={strategy}",
                 *FEW_STEPS])  # fmt: skip
    assert code == 0
    saved = json.loads((tmp_path / "run" / "series.json").read_text())
    assert saved["columns"] == ["Close", "Open"] and saved["horizon"] == 5
    assert saved["calendar"] == ["dayofweek"]
    assert "backtest: 10 origins x 5 steps" in capsys.readouterr().out
    # The forecast reads the calendar of the five trading days after the data.
    assert main(["forecast", str(tmp_path / "run"), "--data", str(csv), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["forecast"]
    last = pd.Timestamp(pd.read_csv(csv)["date"].iloc[-1])
    assert [row["date"] for row in rows] == [
        str(d.date()) for d in pd.bdate_range(last, periods=6)[1:]
    ]


def test_filled_values_never_calibrate_the_intervals(tmp_path):
    # Values missing from the latest validation windows' targets are filled, never seen:
    # the factors must be those of the needs with those cells left out.
    values = seasonal(T=120)
    train_end = 120 - 12 - 2 * 12  # three folds of 12 steps
    values[train_end - 4 : train_end - 1] = np.nan
    csv = write_series(tmp_path / "s.csv", values)
    config = ForecastConfig(
        data=DataConfig(source=str(csv), missing="interpolate"),
        model=ModelConfig(hidden_size=8, ensemble=1),
        backtest=BacktestConfig(folds=3),
    )
    prepared = prepare(config)
    torch.manual_seed(0)
    model = model_of(config, prepared)
    cut, level = prepared.layout, config.model.interval
    holes = prepared.series.holes["value"].to_numpy()
    needs, seen = [], []
    for origins in (cut.val_origins, cut.test_origins):
        batch, _ = prepared.batch(origins)
        q = predict_scaled(model, batch, config)
        need = interval_needs(batch["targets"][..., 0].double().numpy(), *np.moveaxis(q, -1, 0))
        needs.append(need)
        seen.append(np.where(holes[origins[:, None] + np.arange(cut.horizon)], np.nan, need))
    scales = calibrate_intervals(model, prepared, config)
    recent = CALIBRATION_WINDOWS
    expected = rolling_scales(seen[0], cut.val_origins, seen[1], cut.test_origins, level, recent)
    np.testing.assert_array_equal(scales, expected)
    every = rolling_scales(needs[0], cut.val_origins, needs[1], cut.test_origins, level, recent)
    assert not np.array_equal(every, expected)  # the filled cells would have counted
