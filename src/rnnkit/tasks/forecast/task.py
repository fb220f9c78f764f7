"""Time-series forecasting: ``rnnkit train forecast``, the next H values of a series.

Sources (``data.source``, see `rnnkit.data.series`): ``co2`` (the default: the weekly Mauna
Loa CO2 series bundled with statsmodels), ``sunspots`` (yearly sunspot numbers, also
bundled) or a CSV/TSV file with a date column and value columns (``data.target`` is the one
forecast; the others are inputs).

The series is cut once, by time. The last part is the test: ``backtest.folds`` forecast
origins, ``backtest.stride`` steps apart, the last one H steps before the end (unset, chosen
for the series' length: `rnnkit.tasks.forecast.layout`). Everything
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
from rnnkit.data.windows import SeriesScaler
from rnnkit.layers import Kind
from rnnkit.models.forecaster import Forecaster
from rnnkit.tasks.forecast.hybrid import Decomposed, SeasonAhead, decompose, network_windows
from rnnkit.tasks.forecast.layout import (
    BacktestConfig,
    Layout,
    choose_layout,
)
from rnnkit.tasks.forecast.metrics import interval_needs, rolling_scales, stretch
from rnnkit.tasks.runner import load_run_weights
from rnnkit.train.distributed import Context
from rnnkit.train.trainer import TrainConfig

NETWORK = "rnnkit"  # the network's name among the methods a backtest scores
SERIES_FILE = "series.json"
HISTORY_FILE = "history.json"  # the end of the series, to forecast from (`.use`)


@dataclass
class DataConfig:
    source: str = "co2"  # co2, sunspots, or a .csv/.tsv file
    # Many series, one network (`.panel`): a long-format file (a unique_id column, or the
    # column id_column names), or with panel=true each value column a series of its own.
    panel: bool = False
    id_column: str | None = None
    target: str | None = None  # the column to forecast (default: the only value column)
    columns: list[str] | None = None  # value columns read (default: all but the date)
    date_column: str | None = None  # default: the first column
    freq: str | None = None  # pandas frequency ("D", "B", "W-SAT", "MS"); default: inferred
    missing: Literal["error", "interpolate", "ffill"] = "error"
    max_gap: int = 3  # longest run of missing steps that interpolate/ffill may fill
    season: int | None = None  # seasonal period in steps (default: from the frequency)
    transform: Literal["none", "log"] = "none"  # log: model log prices (relative: log returns)
    relative: bool = True  # read and predict the target as changes from the forecast origin
    # the size of the changes that scales them: their root mean square, or (runs trained
    # before it) their standard deviation
    step_scale: Literal["rms", "std"] = "rms"
    calendar: list[str] = field(default_factory=list)  # covariates: dayofweek, month, ...
    horizon: int | None = None  # H; default: one season, or 10 steps without one
    # L; default: two seasons or two horizons, the longer, shortened where the automatic
    # folds need the room (see layout.choose_layout)
    input_length: int | None = None


@dataclass
class ModelConfig(RecurrentConfig):
    # hybrid: exponential smoothing for level and season, seq2seq for the rest (.hybrid)
    strategy: Literal["direct", "recursive", "seq2seq", "hybrid"] = "seq2seq"
    head: Literal["point", "gaussian", "quantile"] = "gaussian"
    interval: float = 0.9  # central prediction interval reported and scored
    calibrate: bool = True  # stretch the intervals to cover `interval` of the latest errors
    kind: Kind = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    num_samples: int = 200  # sample paths of the recursive strategy's intervals
    # Networks whose median forecasts (see .ensemble): five measured best on the development
    # panel (README), at three to four and a half times one's training time; 1 trains one.
    ensemble: int = 5
    # The share of the input length each member reads, in turn (member k the last
    # round(f * L) steps of its windows): all of it, half, three quarters, all ...
    lookbacks: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.75])


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
class Prepared:
    """The series, its scaling and windows: everything a run trains and is tested on."""

    series: SeriesData
    columns: list[str]  # value columns, the target first
    values: np.ndarray  # (T, V) in the data's units, filled without looking past the cut
    scaler: SeriesScaler
    z: np.ndarray  # (T, V) scaled values
    covariates: np.ndarray  # (T, C) calendar features
    layout: Layout
    decomposed: Decomposed | None = None  # the hybrid strategy's level and season

    def batch(self, origins: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
        return network_windows(self.z, self.covariates, origins, self.layout.input_length,
                               self.layout.horizon, self.scaler, self.decomposed,
                               self.values[:, 0])  # fmt: skip

    @property
    def first(self) -> Prepared:
        """The series whose shapes the network takes (of a panel's, the first)."""
        return self

    def part(self, name: Literal["train", "val"]) -> dict[str, Any]:
        """The training or validation windows."""
        cut = self.layout
        return self.batch(cut.train_origins if name == "train" else cut.val_origins)[0]

    def ahead(self, origins: np.ndarray) -> SeasonAhead | None:
        """What recomposes the forecasts from ``origins`` (the hybrid's seasonal indices)."""
        return (
            None if self.decomposed is None else self.decomposed.ahead(origins, self.layout.horizon)
        )


def read_series(data: DataConfig) -> SeriesData:
    return load_series(
        data.source, target=data.target, columns=data.columns, date_column=data.date_column,
        freq=data.freq, missing=data.missing, max_gap=data.max_gap, season=data.season,
    )  # fmt: skip


def value_columns(series: SeriesData) -> list[str]:
    """The frame's value columns with the target first."""
    others = [c for c in series.frame.columns if c != series.target]
    return [series.target, *others]


def prepare(config: ForecastConfig) -> Prepared:
    """Read the series, cut it by time and fit the scaling on the training rows only."""
    return prepare_series(config, read_series(config.data))


def prepare_series(
    config: ForecastConfig, series: SeriesData, cut: Layout | None = None
) -> Prepared:
    """`prepare` for ``series``, cut as ``cut`` says (default: `choose_layout`'s choice)."""
    data = config.data
    columns = value_columns(series)
    if cut is None:
        cut = choose_layout(len(series.frame), data, config.backtest, series.season)
    frame = fill_causal(series, cut.train_end)
    values = frame[columns].to_numpy(dtype=np.float64)  # (T, V)
    largest = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    if largest > 1e150:  # squares and differences of such values overflow float64
        raise ValueError(
            f"{series.source} holds values too large to compute with (largest {largest:.3g}); "
            "rescale the series, e.g. to thousands or millions of its unit"
        )
    decomposed, seen = None, values
    if config.model.strategy == "hybrid":
        if not data.relative:
            raise ValueError("model.strategy=hybrid reads the series relative to its smoothed "
                             "level; drop data.relative=false")  # fmt: skip
        kind = "multiplicative" if data.transform == "log" else None
        decomposed, seen = decompose(values, cut.train_end, series.season, kind)
    log = data.transform == "log" or (
        decomposed is not None and decomposed.smoothing.multiplicative
    )
    relative = data.relative or decomposed is not None
    scaler = SeriesScaler.fit(seen[: cut.train_end], log, relative, data.step_scale)
    covariates = calendar_features(series.frame.index, data.calendar)  # (T, C), C may be 0
    z = scaler.transform(seen)
    return Prepared(series, columns, values, scaler, z, covariates, cut, decomposed)


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
    interval_factor: float | np.ndarray = 1.0,
    ahead: SeasonAhead | None = None,
) -> np.ndarray:
    """(S, H, Q) target forecasts in the data's units from the windows of ``batch``, their
    intervals stretched by ``interval_factor`` (one, (H,) or (S, H): see
    `calibrate_intervals`) and, for the hybrid strategy, recomposed with the seasonal
    indices ``ahead``."""
    q = stretch(predict_scaled(model, batch, config), interval_factor)
    values = scaler.target_values(q, origin[:, None, None])
    return values if ahead is None else ahead.apply(values)


CALIBRATION_WINDOWS = 10  # the latest known errors per step that calibrate an interval


def calibrate_intervals(model: nn.Module, prepared: Prepared, config: ForecastConfig) -> np.ndarray:
    """(K + 1, H) factors that stretch the network's intervals at each backtest origin, and
    after the last (a forecast after the series): per step, the split-conformal quantile of
    what the latest `CALIBRATION_WINDOWS` known targets needed to be covered by
    ``model.interval`` (`rnnkit.tasks.forecast.metrics.rolling_scales`), the validation
    windows' first, then the backtest's own as their values come in. A network's own
    intervals reflect its errors on the windows it was fitted to, which are smaller than its
    errors on windows it has not seen. All 1.0 for a point head or when ``model.calibrate``
    is off."""
    cut = prepared.layout
    if config.model.head == "point" or not config.model.calibrate:
        return np.ones((len(cut.test_origins) + 1, cut.horizon))
    holes = prepared.series.holes[prepared.series.target].to_numpy()  # filled: never seen
    needs = []
    for origins in (cut.val_origins, cut.test_origins):
        batch, _ = prepared.batch(origins)
        q = predict_scaled(model, batch, config)
        actual = batch["targets"][..., 0].double().numpy()  # (S, H), same units as q
        need = interval_needs(actual, q[..., 0], q[..., 1], q[..., 2])
        need[holes[origins[:, None] + np.arange(cut.horizon)]] = np.nan
        needs.append(need)
    return rolling_scales(needs[0], cut.val_origins, needs[1], cut.test_origins,
                          config.model.interval, CALIBRATION_WINDOWS)  # fmt: skip


def quantile_levels(model: ModelConfig) -> tuple[float, float, float]:
    """(lower, 0.5, upper) of the central ``model.interval``."""
    if not 0 < model.interval < 1:
        raise ValueError(f"model.interval must be in (0, 1), got {model.interval}")
    tail = (1 - model.interval) / 2
    return (round(tail, 6), 0.5, round(1 - tail, 6))


def lookback(model: ModelConfig, L: int, member: int = 1) -> int | None:
    """The input steps ensemble member ``member`` (1 is the run's own network) reads of
    windows of L steps: its share of ``model.lookbacks``; None for all of them."""
    shares = model.lookbacks
    if isinstance(shares, str | int | float) or not shares:
        raise ValueError(f"model.lookbacks must be a list of shares in (0, 1], got {shares!r}")
    for share in shares:
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ValueError(f"model.lookbacks must be shares of the input length in (0, 1], "
                             f"e.g. [1.0, 0.5], got {shares!r}")  # fmt: skip
    steps = max(1, round(shares[(member - 1) % len(shares)] * L))
    return None if steps >= L else steps


def build_model(
    config: ForecastConfig, num_values: int, num_covariates: int, H: int, L: int, member: int = 1
) -> Forecaster:
    m = config.model
    if m.ensemble < 1:
        raise ValueError(f"model.ensemble must be at least 1 (networks), got {m.ensemble}")
    strategy = "seq2seq" if m.strategy == "hybrid" else m.strategy
    return Forecaster(
        num_values + num_covariates, H, num_values=num_values, strategy=strategy,
        head=m.head, quantiles=quantile_levels(m), kind=m.kind, hidden_size=m.hidden_size,
        num_layers=m.num_layers, dropout=m.dropout, num_samples=m.num_samples,
        lookback=lookback(m, L, member),
    )  # fmt: skip


def model_of(config: ForecastConfig, prepared: Any, member: int = 1) -> nn.Module:
    """An untrained `Forecaster` (ensemble member ``member``) for the prepared series' (or
    panel's) columns, covariates, horizon and input length."""
    first = prepared.first
    return build_model(config, len(first.columns), first.covariates.shape[1],
                       first.layout.horizon, first.layout.input_length, member)  # fmt: skip


def series_file(config: ForecastConfig, prepared: Prepared) -> dict[str, Any]:
    """What using the run needs besides its weights: ``series.json``."""
    s = prepared.series
    return {
        "target": s.target,
        "columns": prepared.columns,
        "freq": s.freq,
        "season": s.season,
        "input_length": prepared.layout.input_length,
        "horizon": prepared.layout.horizon,
        "calendar": list(config.data.calendar),
        "scaler": prepared.scaler.to_dict(),
        "last_date": str(s.frame.index[-1]),
    } | ({} if prepared.decomposed is None else {"hybrid": prepared.decomposed.smoothing.to_dict()})


def batches(config: ForecastConfig, prepared: Any, context: Context):
    """The training and validation windows of ``prepared`` (a `Prepared`, or a
    `rnnkit.tasks.forecast.panel.Panel`) as batches for the trainer."""
    shard = {"rank": context.rank, "world_size": context.world_size}
    batch = config.train.batch_size
    train = TensorBatches(prepared.part("train"), batch, seed=config.train.seed, **shard)
    val = TensorBatches(prepared.part("val"), batch, shuffle=False, **shard)
    return train, val


def model_for(config: ForecastConfig, saved: dict[str, Any], member: int = 1) -> nn.Module:
    """The `Forecaster` (ensemble member ``member``) of a run from its config and
    ``series.json``, untrained."""
    C = calendar_width(saved["calendar"])
    return build_model(config, len(saved["columns"]), C, int(saved["horizon"]),
                       int(saved["input_length"]), member)  # fmt: skip


def load_model(config: ForecastConfig, saved: dict[str, Any], run_dir: Path) -> nn.Module:
    """The trained `Forecaster` of a run, in eval mode."""
    model = model_for(config, saved)
    load_run_weights(run_dir, model)
    return model.eval()
