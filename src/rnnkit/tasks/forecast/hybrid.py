"""The hybrid strategy: exponential smoothing for level and season, the network for the rest.

The M4 competition's winner (Smyl, 2020) split the work this way: per series, Holt-Winters
smoothing tracks the level and the seasonal pattern; the recurrent network forecasts what is
left, the deseasonalised series relative to its level, where one model can learn the shape
of trends and cycles without having to learn each series' scale and season.

Smoothing (Hyndman and Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed.,
section 8.3), multiplicative::

    level_t     = alpha * y_t / s_(t-m) + (1 - alpha) * level_(t-1)
    s_t         = gamma * y_t / level_(t-1) + (1 - gamma) * s_(t-m)

and additive with ``-`` for ``/``. No trend term: the trend is the network's. Without a
season it is simple exponential smoothing of the level. The initial level and seasonal
indices come from the series' own first seasons (so a run can smooth any series it is
given, from its start), ``alpha`` and ``gamma`` are fitted on the training part by
statsmodels with those initial states, and multiplicative or additive is chosen there by
AIC (multiplicative only for a positive series).

The network reads and predicts, in the scaled units of `rnnkit.data.windows`, the
deseasonalised series ``d_t = y_t / s_t`` (log ``d``, multiplicative) or ``y_t - s_t``
(additive) relative to the level at the forecast origin; a forecast is recomposed with the
latest seasonal index of each step's phase. A series that is a constant level times a fixed
season is therefore forecast exactly when the network predicts no change.

Shapes: T steps, m season, S windows, H horizon.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from rnnkit.data.windows import SeriesScaler, windows

Kind = Literal["multiplicative", "additive"]


@dataclass(frozen=True)
class Smoothing:
    """Fitted smoothing: how the level and the seasonal indices follow a series."""

    kind: Kind
    alpha: float
    gamma: float
    season: int | None  # m; None: the level alone

    @property
    def multiplicative(self) -> bool:
        return self.kind == "multiplicative"

    def initial(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """The starting level and (m,) seasonal indices, from the first two seasons of ``y``
        (one with fewer points): their mean, and each phase against its season's mean."""
        m = self.season
        if not m:
            return float(y[: min(len(y), 10)].mean()), np.zeros(0)
        if len(y) < m:
            raise ValueError(f"the hybrid smooths a series from its start and needs at least "
                             f"one season ({m} steps); this one has {len(y)}")  # fmt: skip
        seasons = y[: m * max(1, min(2, len(y) // m))].reshape(-1, m)
        means = seasons.mean(axis=1, keepdims=True)
        if self.multiplicative:
            indices = (seasons / means).mean(axis=0)
            return float(means[0, 0]), indices / indices.mean()
        indices = (seasons - means).mean(axis=0)
        return float(means[0, 0]), indices - indices.mean()

    def run(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smooth ``y`` (T,) from its start.

        Returns ``level`` (T,), the level after seeing each step, and ``seasonal`` (T + m,),
        the index each step is deseasonalised with, known m steps ahead (all 1 or 0 without
        a season): ``seasonal[t]`` is set from steps before ``t - m + 1``.
        """
        y = np.asarray(y, dtype=np.float64)
        m, a, g = self.season or 0, self.alpha, self.gamma
        level0, indices = self.initial(y)
        level = np.empty(len(y))
        neutral = 1.0 if self.multiplicative else 0.0
        seasonal = np.full(len(y) + m, neutral)
        seasonal[:m] = indices
        previous = level0
        for t, value in enumerate(y):
            s = seasonal[t]
            if self.multiplicative:
                level[t] = a * value / s + (1 - a) * previous
                if m:
                    seasonal[t + m] = g * value / previous + (1 - g) * s
            else:
                level[t] = a * (value - s) + (1 - a) * previous
                if m:
                    seasonal[t + m] = g * (value - previous) + (1 - g) * s
            previous = level[t]
        return level, seasonal

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Smoothing:
        kind = data["kind"]
        if kind not in ("multiplicative", "additive"):
            raise ValueError(f"smoothing kind must be multiplicative or additive, got {kind!r}")
        season = data["season"]
        return cls(
            kind, float(data["alpha"]), float(data["gamma"]), int(season) if season else None
        )


def fit_smoothing(y: np.ndarray, season: int | None, kind: Kind | None = None) -> Smoothing:
    """Smoothing fitted to the training values ``y`` (T,): ``alpha`` and ``gamma`` by
    statsmodels' Holt-Winters estimator from `Smoothing.initial`'s starting states, the kind
    by AIC unless given. A season needs two full seasons of ``y``; with fewer, none."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from rnnkit.tasks.forecast.baselines import fitting

    y = np.asarray(y, dtype=np.float64)
    m = season if season and len(y) >= 2 * season else None
    kinds: list[Kind] = [kind] if kind else ["additive", "multiplicative"]
    if (y <= 0).any():
        if kind == "multiplicative":
            raise ValueError("data.transform=log makes the hybrid's season multiplicative, "
                             "which needs a positive series; this one has values <= 0")  # fmt: skip
        kinds = ["additive"]
    best: tuple[float, Smoothing] | None = None
    for k in kinds:
        start = Smoothing(k, 0.0, 0.0, m)
        level0, indices = start.initial(y)
        shape = {"seasonal": "mul" if k == "multiplicative" else "add", "seasonal_periods": m,
                 "initial_seasonal": indices} if m else {}  # fmt: skip
        with fitting():
            result = ExponentialSmoothing(
                y, initialization_method="known", initial_level=level0, **shape
            ).fit()
        params = result.params
        gamma = float(params.get("smoothing_seasonal") or 0.0) if m else 0.0
        made = Smoothing(k, float(params["smoothing_level"]), gamma, m)
        if best is None or result.aic < best[0]:
            best = (float(result.aic), made)
    assert best is not None
    return best[1]


def seasonal_ahead(seasonal: np.ndarray, origins: np.ndarray, horizon: int, m: int | None):
    """(S, H) the index each forecast step is recomposed with: for origin o and step h, the
    latest index of that phase known at o (``seasonal[o + h]`` within a season, then
    repeated). All 1 or 0 (``seasonal``'s fill) without a season."""
    origins = np.asarray(origins)
    if not m:
        return np.full((len(origins), horizon), seasonal[0])
    return seasonal[origins[:, None] + np.arange(horizon) % m]


@dataclass(frozen=True)
class SeasonAhead:
    """The seasonal indices that recompose S forecasts of H steps."""

    factors: np.ndarray  # (S, H)
    multiplicative: bool

    def apply(self, values: np.ndarray) -> np.ndarray:
        """(S, H, Q) deseasonalised forecasts -> forecasts of the series."""
        factors = self.factors[..., None]
        return values * factors if self.multiplicative else values + factors


@dataclass(frozen=True)
class Decomposed:
    """One series smoothed from its start: what the network reads and how to recompose."""

    smoothing: Smoothing
    level: np.ndarray  # (T,)
    seasonal: np.ndarray  # (T + m,)

    @classmethod
    def of(cls, smoothing: Smoothing, y: np.ndarray) -> Decomposed:
        if smoothing.multiplicative and (np.asarray(y) <= 0).any():
            raise ValueError(
                "the hybrid's season is multiplicative (chosen on a positive training part) "
                "and this series has values <= 0, which it cannot divide by; forecast a "
                "positive series, or train on one with the other strategies"
            )
        return cls(smoothing, *smoothing.run(y))

    def deseasonalised(self, y: np.ndarray) -> np.ndarray:
        """(T,) the series with each step's seasonal index taken out."""
        s = self.seasonal[: len(y)]
        return y / s if self.smoothing.multiplicative else y - s

    def seen(self, values: np.ndarray) -> np.ndarray:
        """(T, V) values as the network sees them: a copy with the target (column 0)
        deseasonalised."""
        out = np.array(values, dtype=np.float64)
        out[:, 0] = self.deseasonalised(out[:, 0])
        return out

    def ahead(self, origins: np.ndarray, horizon: int) -> SeasonAhead:
        factors = seasonal_ahead(self.seasonal, origins, horizon, self.smoothing.season)
        return SeasonAhead(factors, self.smoothing.multiplicative)


def network_windows(
    z: np.ndarray, covariates: np.ndarray, origins: np.ndarray, L: int, H: int,
    scaler: SeriesScaler, decomposed: Decomposed | None, y: np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray]:  # fmt: skip
    """`rnnkit.data.windows.windows` as the network reads them. For the hybrid strategy,
    relative to the smoothed level at each origin, and with the targets (from ``y`` (T,),
    the target's values) deseasonalised by the indices known at the origin, the ones a
    forecast is recomposed with: a step a season or more ahead is divided by the last index
    of its phase, not by one that later values updated."""
    if decomposed is None:
        return windows(z, covariates, origins, L, H, scaler.relative)
    origins = np.asarray(origins)
    anchor = scaler.target_z(decomposed.level[origins - 1])
    batch, origin = windows(z, covariates, origins, L, H, scaler.relative, anchor)
    if y is not None and len(origins):
        rows = origins[:, None] + np.arange(H)  # (S, H)
        raw = np.where(rows < len(y), y[np.minimum(rows, len(y) - 1)], np.nan)
        factors = decomposed.ahead(origins, H).factors
        seen = raw / factors if decomposed.smoothing.multiplicative else raw - factors
        with np.errstate(invalid="ignore"):  # NaN past the end stays NaN
            targets = scaler.target_z(seen) - anchor[:, None]
        batch["targets"][..., 0] = torch.tensor(targets, dtype=torch.float32)
    return batch, origin


def decompose(
    values: np.ndarray, train_end: int, season: int | None, kind: Kind | None = None
) -> tuple[Decomposed, np.ndarray]:
    """The hybrid's smoothing, fitted on the training rows and run over the whole target,
    and the (T, V) values the network sees: the target deseasonalised."""
    smoothing = fit_smoothing(values[:train_end, 0], season, kind)
    decomposed = Decomposed.of(smoothing, values[:, 0])
    return decomposed, decomposed.seen(values)


def swing_grows(y: np.ndarray, season: int | None) -> bool:
    """Whether the seasonal swing of the positive series ``y`` grows with its level: the
    multiplicative smoothing fits it better by AIC than the additive."""
    y = np.asarray(y, dtype=np.float64)
    if not season or len(y) < 2 * season or (y <= 0).any():
        return False
    return fit_smoothing(y, season).kind == "multiplicative"
