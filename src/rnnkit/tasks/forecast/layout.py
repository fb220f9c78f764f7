"""Where a forecasting run's windows fall: training windows, validation windows and the
backtest's origins, chosen from the series' length when not set.

The series is cut once, by time: the last part is the test, ``backtest.folds`` forecast
origins ``backtest.stride`` steps apart, the last one H steps before the end; everything
before the first origin is training data (a panel's series may end theirs earlier, at one
date for all: `rnnkit.tasks.forecast.panel`). Shapes: T steps, L input length, H horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

VAL_SHARE = 0.15  # of the training windows, the latest, for choosing the best epoch
MIN_TRAIN_WINDOWS = 8
MAX_FOLDS, MIN_FOLDS = 10, 3  # what the automatic folds choose between


@dataclass
class BacktestConfig:
    # forecast origins in the test part; default: up to MAX_FOLDS, as many as the series has
    # room for (see choose_layout)
    folds: int | None = None
    stride: int | None = None  # steps between origins; default: the horizon (no overlap)
    baselines: list[str] | None = None  # default: naive, seasonal_naive (with a season), ets,
    # arima


@dataclass
class Layout:
    """Where the windows fall in a series of T steps: what is training and what is test."""

    input_length: int  # L
    horizon: int  # H
    train_end: int  # rows [0, train_end) are training data; the first test origin or before
    train_origins: np.ndarray  # (S_train,)
    val_origins: np.ndarray  # (S_val,)
    test_origins: np.ndarray  # (K,)
    chosen: str = ""  # how the automatic folds fitted the series (`choose_layout`)


def lengths(data: Any, season: int | None) -> tuple[int, int]:
    """(L, H): the configured input length and horizon, or their defaults for ``season``."""
    H = data.horizon if data.horizon is not None else (season or 10)
    L = data.input_length if data.input_length is not None else max(2 * (season or 0), 2 * H)
    for name, value in (("data.horizon", H), ("data.input_length", L)):
        if value < 1:
            raise ValueError(f"{name} must be a positive int, got {value}")
    return L, H


def attempts(
    data: Any, backtest: BacktestConfig, season: int | None
) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(L, H, the (folds, stride, input length) to try in turn): with ``backtest.folds``
    set, only those; unset, the most origins up to `MAX_FOLDS` a horizon apart, with the
    input length shortened (when not set) down to one season or one horizon, the longer;
    then origins a step apart; down to `MIN_FOLDS`."""
    L, H = lengths(data, season)
    for name, value in (("folds", backtest.folds), ("stride", backtest.stride)):
        if value is not None and value < 1:
            raise ValueError(f"backtest.{name} must be a positive int, got {value}")
    if backtest.folds is not None:
        return L, H, [(backtest.folds, backtest.stride or H, L)]
    shortest = L if data.input_length is not None else min(L, max(season or 0, H))
    strides = [backtest.stride] if backtest.stride is not None else [H, 1] if H > 1 else [1]
    return L, H, [(K, stride, length) for stride in strides
                  for K in range(MAX_FOLDS, MIN_FOLDS - 1, -1)
                  for length in range(L, shortest - 1, -1)]  # fmt: skip


def chosen(T: int | str, K: int, stride: int, length: int, L: int) -> str:
    """What the automatic folds chose for T steps (or "the panel"), for the report."""
    changed = [f"{K} origins {stride} step{'s' * (stride > 1)} apart"]
    if length != L:
        changed.append(f"input length {length}")
    return f"chosen for {T}{' steps' if isinstance(T, int) else ''}: {', '.join(changed)}"


def choose_layout(T: int, data: Any, backtest: BacktestConfig, season: int | None) -> Layout:
    """The layout of a series of T steps, with a note on what was chosen for it.

    With ``backtest.folds`` set, `layout` as configured. Unset, the first of `attempts`
    that leaves enough training windows; failing all, a one-line refusal."""
    L, H, tries = attempts(data, backtest, season)
    if backtest.folds is not None:
        return layout(T, L, H, backtest)
    for K, stride, length in tries:
        tried = BacktestConfig(K, stride, backtest.baselines)
        if fits(T, length, H, tried):
            cut = layout(T, length, H, tried)
            cut.chosen = chosen(T, K, stride, length, L)
            return cut
    _, stride, shortest = tries[-1]
    fewest = BacktestConfig(MIN_FOLDS, stride)
    need = next((n for n in range(T + 1, T + 100 * (H + shortest) + 100)
                 if fits(n, shortest, H, fewest)), None)  # fmt: skip
    takes = f" (that takes at least {need})" if need else ""
    raise ValueError(
        f"the series has {T} steps, too few for {MIN_FOLDS} backtest origins of {H} steps "
        f"after {MIN_TRAIN_WINDOWS} training windows{takes}; use a longer series or a "
        "shorter data.horizon"
    )


def fits(T: int, L: int, H: int, backtest: BacktestConfig) -> bool:
    """Whether T steps have room for `layout`'s windows and origins."""
    try:
        layout(T, L, H, backtest)
    except ValueError:
        return False
    return True


def layout(
    T: int, L: int, H: int, backtest: BacktestConfig, train_end: int | None = None
) -> Layout:
    """Cut T steps into training windows and K test origins, the last H steps before T.
    ``train_end`` ends the training data earlier than the first origin (a panel's series
    all end theirs at one date)."""
    K = backtest.folds if backtest.folds is not None else MAX_FOLDS
    stride = backtest.stride if backtest.stride is not None else H
    if K < 1 or stride < 1:
        raise ValueError(f"backtest.folds and backtest.stride must be positive, got {K}, {stride}")
    if T < L + H:
        raise ValueError(
            f"the series has {T} steps, shorter than one window of data.input_length + "
            f"data.horizon = {L} + {H}; use shorter windows or a longer series"
        )
    first = T - H - (K - 1) * stride
    train_end = first if train_end is None else min(train_end, first)
    count = train_end - H - L + 1  # training windows: targets end before train_end
    val = max(1, round(VAL_SHARE * count))
    if count - val - (H - 1) < MIN_TRAIN_WINDOWS:
        before = "before the first origin" if train_end == first else "before the panel's cut"
        raise ValueError(
            f"the series has {T} steps: {K} backtest folds {stride} steps apart leave "
            f"{max(count, 0)} windows of {L} + {H} steps {before} (at least "
            f"{MIN_TRAIN_WINDOWS} for training besides the validation ones); lower "
            "backtest.folds, data.input_length or data.horizon"
        )
    origins = np.arange(L, L + count)
    # The last training window's targets run H - 1 rows into the first validation window's;
    # leaving out the H - 1 origins between them keeps validation targets unseen.
    train = origins[: count - val - (H - 1)]
    test = first + stride * np.arange(K)
    return Layout(L, H, train_end, train, origins[-val:], test)
