"""What a backtest writes besides its results: ``backtest.csv`` (every method's forecast at
every origin and step, next to the value that came) and ``backtest.png`` (the target, the
network's forecasts and intervals, and the best baseline's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rnnkit.io import atomic_path
from rnnkit.tasks.forecast.task import NETWORK, Prepared, point_of

if TYPE_CHECKING:  # the backtest writes these files
    from rnnkit.tasks.forecast.backtest import Assessed, Backtest


def backtest_frame(result: Backtest) -> pd.DataFrame:
    """One row per origin and step: the actual value and every method's forecast."""
    K, H = result.actual.shape
    frame = pd.DataFrame({
        "origin": np.repeat(result.origins.astype(str), H), "step": np.tile(np.arange(1, H + 1), K),
        "date": pd.DatetimeIndex(result.dates.ravel()).astype(str), "actual": result.actual.ravel(),
    })  # fmt: skip
    for name, q in result.forecasts.items():
        frame[name] = point_of(q).ravel()
        if q.shape[-1] > 1:
            frame[f"{name}_lower"], frame[f"{name}_upper"] = q[..., 0].ravel(), q[..., -1].ravel()
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def draw_backtest(
    ax: Any, result: Backtest, table: dict[str, dict[str, float]], history: pd.Series, title: str
) -> None:
    """The target, the network's forecasts with their intervals and the best baseline's;
    ``table`` is ``result.scores()``."""
    baselines = [name for name in table if name != NETWORK]
    best = min(baselines, key=lambda name: table[name]["mase"])
    ax.plot(history.index, history.to_numpy(), color="black", lw=1, label="actual")
    for k in range(len(result.origins)):
        dates, q = pd.DatetimeIndex(result.dates[k]), result.forecasts[NETWORK][k]
        if q.shape[-1] > 1:
            band = "interval" if k == 0 else None
            ax.fill_between(dates, q[:, 0], q[:, -1], color="C0", alpha=0.2, lw=0, label=band)
        ax.plot(dates, point_of(q), color="C0", lw=1.5,
                label=NETWORK if k == 0 else None)  # fmt: skip
        b = result.forecasts[best][k]
        ax.plot(dates, point_of(b), color="C1", lw=1, ls="--",
                label=best if k == 0 else None)  # fmt: skip
    ax.axvline(result.origins[0], color="gray", lw=0.8, ls=":")
    ax.set_title(f"{title}\nMASE {NETWORK} {table[NETWORK]['mase']:.3f}, "
                 f"{best} {table[best]['mase']:.3f}")  # fmt: skip
    ax.legend(loc="best", fontsize=8)


def plot_backtests(shown: list[tuple[Assessed, pd.Series, str]], path: Path) -> None:
    """`draw_backtest` for each (assessed, history, title), one under the other, as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    fig = Figure(figsize=(10, 4.5 * len(shown)), dpi=100)
    for i, (assessed, history, title) in enumerate(shown):
        draw_backtest(fig.add_subplot(len(shown), 1, i + 1), assessed.result, assessed.table,
                      history, title)  # fmt: skip
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def shown_history(prepared: Prepared) -> pd.Series:
    """The part of the target a backtest plot shows: four horizons before the test, and it."""
    cut, series = prepared.layout, prepared.series
    return series.frame[series.target].iloc[max(0, cut.test_origins[0] - 4 * cut.horizon) :]
