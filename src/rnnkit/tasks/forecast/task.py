"""Time-series forecasting: ``rnnkit train forecast``, the next H values of a series.

Sources (``data.source``, see `rnnkit.data.series`): ``co2`` (the default: the weekly Mauna
Loa CO2 series bundled with statsmodels), ``sunspots`` (yearly sunspot numbers, also
bundled) or a CSV/TSV file with a date column and value columns (``data.target`` is the one
forecast; the others are inputs).

The series is cut once, by time. The last part is the test: ``backtest.folds`` forecast
origins, ``backtest.stride`` steps apart, the last one H steps before the end. Everything
before the first origin is training data, and only that: the scaling is fitted there, the
training windows end there (the last 15% of them, by time and after a gap that keeps their
targets apart from the training targets, pick the best epoch); a missing value is filled
from the training rows alone, or with the last value before it in the test part. The
backtest then forecasts from every origin with the history up to it, next to naive,
seasonal-naive, exponential-smoothing and ARIMA baselines refitted at each origin, and
scores all of them on the same values (`rnnkit.tasks.forecast.backtest`).

Shapes: T steps, V value columns (the target first), C covariates, L input length, H
horizon, S windows, K backtest origins, Q quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from rnnkit.config import RecurrentConfig
from rnnkit.data.batching import TensorBatches
from rnnkit.data.calendar import calendar_features, calendar_width
from rnnkit.data.series import SeriesData, fill_causal, load_series
from rnnkit.data.windows import SeriesScaler, windows
from rnnkit.layers import Kind
from rnnkit.models.forecaster import Forecaster
from rnnkit.tasks.forecast.baselines import make_baselines
from rnnkit.tasks.forecast.metrics import interval_scale, mase_scale, stretch
from rnnkit.tasks.runner import load_run_weights
from rnnkit.train.distributed import Context
from rnnkit.train.trainer import TrainConfig

SERIES_FILE = "series.json"
HISTORY_FILE = "history.json"  # the end of the series, to forecast from (`.use`)
VAL_SHARE = 0.15  # of the training windows, the latest, for choosing the best epoch
MIN_TRAIN_WINDOWS = 8


@dataclass
class DataConfig:
    source: str = "co2"  # co2, sunspots, or a .csv/.tsv file
    target: str | None = None  # the column to forecast (default: the only value column)
    columns: list[str] | None = None  # value columns read (default: all but the date)
    date_column: str | None = None  # default: the first column
    freq: str | None = None  # pandas frequency ("D", "B", "W-SAT", "MS"); default: inferred
    missing: Literal["error", "interpolate", "ffill"] = "error"
    max_gap: int = 3  # longest run of missing steps that interpolate/ffill may fill
    season: int | None = None  # seasonal period in steps (default: from the frequency)
    transform: Literal["none", "log"] = "none"  # log: model log prices (relative: log returns)
    relative: bool = True  # read and predict the target as changes from the forecast origin
    calendar: list[str] = field(default_factory=list)  # covariates: dayofweek, month, ...
    horizon: int | None = None  # H; default: one season, or 10 steps without one
    input_length: int | None = None  # L; default: two seasons or two horizons, the longer


@dataclass
class ModelConfig(RecurrentConfig):
    strategy: Literal["direct", "recursive", "seq2seq"] = "seq2seq"
    head: Literal["point", "gaussian", "quantile"] = "gaussian"
    interval: float = 0.9  # central prediction interval reported and scored
    calibrate: bool = True  # stretch the intervals to cover `interval` of validation windows
    kind: Kind = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    num_samples: int = 200  # sample paths of the recursive strategy's intervals


@dataclass
class BacktestConfig:
    folds: int = 10  # forecast origins in the test part
    stride: int | None = None  # steps between origins; default: the horizon (no overlap)
    baselines: list[str] | None = None  # default: naive, seasonal_naive (with a season), ets,
    # arima


def _train_defaults() -> TrainConfig:
    # A budget of optimizer steps rather than epochs: a yearly series has a hundred windows,
    # a weekly one a thousand, and both need about as many steps. The best epoch on the
    # validation windows is kept.
    return TrainConfig(
        epochs=200, max_steps=1000, batch_size=32, lr=3e-3, clip_norm=1.0, schedule="cosine",
        log_every=20, checkpoint_every=1000,
    )  # fmt: skip


@dataclass
class ForecastConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    train: TrainConfig = field(default_factory=_train_defaults)


@dataclass
class Layout:
    """Where the windows fall in a series of T steps: what is training and what is test."""

    input_length: int  # L
    horizon: int  # H
    train_end: int  # rows [0, train_end) are training data; the first test origin
    train_origins: np.ndarray  # (S_train,)
    val_origins: np.ndarray  # (S_val,)
    test_origins: np.ndarray  # (K,)


@dataclass
class Prepared:
    """The series, its scaling and windows: everything a run trains and is tested on."""

    series: SeriesData
    columns: list[str]  # value columns, the target first
    values: np.ndarray  # (T, V) in the data's units, filled without looking past the cut
    scaler: SeriesScaler
    z: np.ndarray  # (T, V) scaled values
    covariates: np.ndarray  # (T, C) calendar features
    layout: Layout

    def batch(self, origins: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
        L, H = self.layout.input_length, self.layout.horizon
        return windows(self.z, self.covariates, origins, L, H, self.scaler.relative)


def read_series(data: DataConfig) -> SeriesData:
    return load_series(
        data.source, target=data.target, columns=data.columns, date_column=data.date_column,
        freq=data.freq, missing=data.missing, max_gap=data.max_gap, season=data.season,
    )  # fmt: skip


def value_columns(series: SeriesData) -> list[str]:
    """The frame's value columns with the target first."""
    others = [c for c in series.frame.columns if c != series.target]
    return [series.target, *others]


def lengths(data: DataConfig, season: int | None) -> tuple[int, int]:
    """(L, H): the configured input length and horizon, or their defaults for ``season``."""
    H = data.horizon if data.horizon is not None else (season or 10)
    L = data.input_length if data.input_length is not None else max(2 * (season or 0), 2 * H)
    for name, value in (("data.horizon", H), ("data.input_length", L)):
        if value < 1:
            raise ValueError(f"{name} must be a positive int, got {value}")
    return L, H


def layout(T: int, L: int, H: int, backtest: BacktestConfig) -> Layout:
    """Cut T steps into training windows and K test origins, the last H steps before T."""
    K, stride = backtest.folds, backtest.stride if backtest.stride is not None else H
    if K < 1 or stride < 1:
        raise ValueError(f"backtest.folds and backtest.stride must be positive, got {K}, {stride}")
    if T < L + H:
        raise ValueError(
            f"the series has {T} steps, shorter than one window of data.input_length + "
            f"data.horizon = {L} + {H}; use shorter windows or a longer series"
        )
    train_end = T - H - (K - 1) * stride
    count = train_end - H - L + 1  # training windows: targets end before train_end
    val = max(1, round(VAL_SHARE * count))
    if count - val - (H - 1) < MIN_TRAIN_WINDOWS:
        raise ValueError(
            f"the series has {T} steps: {K} backtest folds {stride} steps apart leave "
            f"{max(count, 0)} windows of {L} + {H} steps before the first origin (at least "
            f"{MIN_TRAIN_WINDOWS} for training besides the validation ones); lower "
            "backtest.folds, data.input_length or data.horizon"
        )
    origins = np.arange(L, L + count)
    # The last training window's targets run H - 1 rows into the first validation window's;
    # leaving out the H - 1 origins between them keeps validation targets unseen.
    train = origins[: count - val - (H - 1)]
    test = train_end + stride * np.arange(K)
    return Layout(L, H, train_end, train, origins[-val:], test)


def prepare(config: ForecastConfig) -> Prepared:
    """Read the series, cut it by time and fit the scaling on the training rows only."""
    data = config.data
    series = read_series(data)
    columns = value_columns(series)
    L, H = lengths(data, series.season)
    cut = layout(len(series.frame), L, H, config.backtest)
    frame = fill_causal(series, cut.train_end)
    values = frame[columns].to_numpy(dtype=np.float64)  # (T, V)
    largest = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    if largest > 1e150:  # squares and differences of such values overflow float64
        raise ValueError(
            f"{series.source} holds values too large to compute with (largest {largest:.3g}); "
            "rescale the series, e.g. to thousands or millions of its unit"
        )
    scaler = SeriesScaler.fit(values[: cut.train_end], data.transform == "log", data.relative)
    covariates = calendar_features(series.frame.index, data.calendar)  # (T, C), C may be 0
    z = scaler.transform(values)
    return Prepared(series, columns, values, scaler, z, covariates, cut)


def baseline_names(config: ForecastConfig, season: int | None) -> list[str]:
    names = config.backtest.baselines
    if names is None:
        names = ["naive", *(["seasonal_naive"] if season else []), "ets", "arima"]
    return names if "naive" in names else ["naive", *names]  # the verdict needs the naive


def check_backtest(config: ForecastConfig, prepared: Prepared) -> None:
    """Fit every baseline once on the training part, and its MASE scale: a setting or a
    series the backtest cannot use fails here, before training, not after it."""
    cut, season = prepared.layout, prepared.series.season
    history = prepared.values[: cut.train_end, 0]
    baselines = make_baselines(baseline_names(config, season), season)  # names checked
    try:
        mase_scale(history, season)
        for baseline in baselines:
            baseline.forecast(history, cut.horizon, quantile_levels(config.model))
    except ValueError as e:
        raise ValueError(
            f"the backtest cannot start from the {len(history)} steps before its first "
            f"origin ({e}); lower backtest.folds or data.season"
        ) from None


def own_levels(model: ModelConfig) -> tuple[float, ...]:
    """The quantile levels a run's forecasts have: (0.5,) alone for a point head."""
    return (0.5,) if model.head == "point" else quantile_levels(model)


def point_of(q: np.ndarray) -> np.ndarray:
    """(..., Q) quantiles of (0.5,) or (lower, 0.5, upper) -> (...) the point forecast."""
    return q[..., q.shape[-1] // 2]


def predict_scaled(model: nn.Module, batch: dict[str, Any], config: ForecastConfig) -> np.ndarray:
    """(S, H, Q) target forecasts in the network's scaled, relative units."""
    generator = torch.Generator().manual_seed(config.train.seed)  # recursive sample paths
    q = model.predict(batch["inputs"], batch["future"], own_levels(config.model), generator)
    return q.double().numpy()


def forecast_values(
    model: nn.Module,
    scaler: SeriesScaler,
    batch: dict[str, Any],
    origin: np.ndarray,
    config: ForecastConfig,
    interval_factor: float = 1.0,
) -> np.ndarray:
    """(S, H, Q) target forecasts in the data's units from the windows of ``batch``, their
    intervals stretched by ``interval_factor`` (see `calibrate_intervals`)."""
    q = stretch(predict_scaled(model, batch, config), interval_factor)
    return scaler.target_values(q, origin[:, None, None])


def calibrate_intervals(model: nn.Module, prepared: Prepared, config: ForecastConfig) -> float:
    """The factor that stretches the network's intervals to cover ``model.interval`` of the
    validation windows' targets (split-conformal, `rnnkit.tasks.forecast.metrics.interval_scale`).
    A network's own intervals reflect its errors on the windows it was fitted to, which are
    smaller than its errors on windows it has not seen. 1.0 for a point head or when
    ``model.calibrate`` is off."""
    if config.model.head == "point" or not config.model.calibrate:
        return 1.0
    batch, _ = prepared.batch(prepared.layout.val_origins)
    q = predict_scaled(model, batch, config)
    actual = batch["targets"][..., 0].double().numpy()  # (S, H), same units as q
    return interval_scale(actual, q[..., 0], q[..., 1], q[..., 2], config.model.interval)


def quantile_levels(model: ModelConfig) -> tuple[float, float, float]:
    """(lower, 0.5, upper) of the central ``model.interval``."""
    if not 0 < model.interval < 1:
        raise ValueError(f"model.interval must be in (0, 1), got {model.interval}")
    tail = (1 - model.interval) / 2
    return (round(tail, 6), 0.5, round(1 - tail, 6))


def build_model(config: ForecastConfig, num_values: int, num_covariates: int, H: int):
    m = config.model
    return Forecaster(
        num_values + num_covariates, H, num_values=num_values, strategy=m.strategy,
        head=m.head, quantiles=quantile_levels(m), kind=m.kind, hidden_size=m.hidden_size,
        num_layers=m.num_layers, dropout=m.dropout, num_samples=m.num_samples,
    )  # fmt: skip


def series_file(config: ForecastConfig, prepared: Prepared) -> dict[str, Any]:
    """What using the run needs besides its weights: ``series.json``."""
    s = prepared.series
    return {
        "target": s.target, "columns": prepared.columns, "freq": s.freq, "season": s.season,
        "input_length": prepared.layout.input_length, "horizon": prepared.layout.horizon,
        "calendar": list(config.data.calendar), "scaler": prepared.scaler.to_dict(),
        "last_date": str(s.frame.index[-1]),
    }  # fmt: skip


def batches(config: ForecastConfig, prepared: Prepared, context: Context):
    """The training and validation windows as batches for the trainer."""
    cut = prepared.layout
    shard = {"rank": context.rank, "world_size": context.world_size}
    batch = config.train.batch_size
    train = TensorBatches(prepared.batch(cut.train_origins)[0], batch,
                          seed=config.train.seed, **shard)  # fmt: skip
    val = TensorBatches(prepared.batch(cut.val_origins)[0], batch, shuffle=False, **shard)
    return train, val


def model_for(config: ForecastConfig, saved: dict[str, Any]) -> nn.Module:
    """The `Forecaster` of a run from its config and ``series.json``, untrained."""
    C = calendar_width(saved["calendar"])
    return build_model(config, len(saved["columns"]), C, int(saved["horizon"]))


def load_model(config: ForecastConfig, saved: dict[str, Any], run_dir: Path) -> nn.Module:
    """The trained `Forecaster` of a run, in eval mode."""
    model = model_for(config, saved)
    load_run_weights(run_dir, model)
    return model.eval()
