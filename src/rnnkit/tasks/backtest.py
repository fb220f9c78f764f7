"""Rolling-origin backtest of a forecasting run against simple baselines, told plainly.

At each of the K test origins every method forecasts the next H steps from the history up
to that origin (the network from its last L steps, with the weights trained on the data
before the first origin; each baseline refitted on the whole history). All methods are
scored on the same K x H values of the target in its own units: MAE, RMSE, sMAPE, MASE
(scaled by the in-sample seasonal-naive error of the training part) and, for prediction
intervals, the share of values they covered. The verdict says whether the network beats
repeating the last value, and by how much, or that it does not.

Shapes: K origins, H horizon, Q quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnkit.forecast_metrics import interval_coverage, mase_scale, point_scores, score_table
from rnnkit.io import atomic_path
from rnnkit.models.baselines import make_baselines
from rnnkit.tasks.forecast import ForecastConfig, Prepared, build_model, quantile_levels
from rnnkit.tasks.runner import load_run_weights

NETWORK = "rnnkit"


@dataclass
class Backtest:
    """Every method's forecasts at the K origins and the values that came."""

    origins: pd.DatetimeIndex  # (K,) the first forecast date of each origin
    dates: np.ndarray  # (K, H) the forecast dates
    actual: np.ndarray  # (K, H)
    forecasts: dict[str, np.ndarray]  # method -> (K, H, Q) quantiles (Q = 1: point only)
    levels: tuple[float, ...]  # the Q probabilities of a full forecast
    scale: float  # the MASE denominator

    def scores(self) -> dict[str, dict[str, float]]:
        table = {}
        for name, q in self.forecasts.items():
            middle = q.shape[-1] // 2  # the 0.5 quantile of (lower, 0.5, upper) or (0.5,)
            row = point_scores(self.actual, q[..., middle], self.scale)
            if q.shape[-1] > 1:
                row["coverage"] = interval_coverage(self.actual, q[..., 0], q[..., -1])
            table[name] = row
        return table


def network_forecasts(
    model: nn.Module, prepared: Prepared, origins: np.ndarray, probabilities, seed: int
) -> np.ndarray:
    """(K, H, Q) forecasts of the target in its own units from ``origins``."""
    batch, origin = prepared.batch(origins)
    generator = torch.Generator().manual_seed(seed)  # the recursive strategy's sample paths
    q = model.predict(batch["inputs"], batch["future"], probabilities, generator)
    return prepared.scaler.target_values(q.double().numpy(), origin[:, None, None])


def baseline_names(config: ForecastConfig, season: int | None) -> list[str]:
    names = config.backtest.baselines
    if names is None:
        names = ["naive", *(["seasonal_naive"] if season else []), "ets", "arima"]
    return names if "naive" in names else ["naive", *names]  # the verdict needs the naive


def run_backtest(model: nn.Module, config: ForecastConfig, prepared: Prepared) -> Backtest:
    cut, series = prepared.layout, prepared.series
    levels = quantile_levels(config.model)
    own = (0.5,) if config.model.head == "point" else levels
    target = series.frame[series.target].to_numpy(dtype=np.float64)
    steps = cut.test_origins[:, None] + np.arange(cut.horizon)  # (K, H) rows
    forecasts = {NETWORK: network_forecasts(model, prepared, cut.test_origins, own,
                                            config.train.seed)}  # fmt: skip
    for baseline in make_baselines(baseline_names(config, series.season), series.season):
        forecasts[baseline.name] = np.stack(
            [baseline.forecast(target[:o], cut.horizon, levels) for o in cut.test_origins]
        )
    return Backtest(
        origins=series.frame.index[cut.test_origins],
        dates=series.frame.index.to_numpy()[steps],
        actual=target[steps],
        forecasts=forecasts,
        levels=levels,
        scale=mase_scale(target[: cut.train_end], series.season),
    )


def verdict(table: dict[str, dict[str, float]], interval: float) -> list[str]:
    """Plain sentences on what the numbers show, and do not show."""
    net, naive = table[NETWORK]["mase"], table["naive"]["mase"]
    if net < naive:
        lines = [
            f"The network beats the naive forecast (the last value repeated): MASE "
            f"{net:.3f} against {naive:.3f}, {1 - net / naive:.0%} lower."
        ]
    else:
        lines = [
            f"The network does NOT beat the naive forecast (the last value repeated): MASE "
            f"{net:.3f} against {naive:.3f}. Its forecasts show no skill on this series; "
            "the naive forecast is the one to use."
        ]
    others = {name: row["mase"] for name, row in table.items() if name not in (NETWORK, "naive")}
    if others:
        best = min(others, key=others.__getitem__)
        if net < others[best]:
            lines.append(f"It also beats every baseline; the best of them, {best}, scored "
                         f"MASE {others[best]:.3f}.")  # fmt: skip
        else:
            lines.append(f"{best} is better than the network: MASE {others[best]:.3f} "
                         f"against {net:.3f}.")  # fmt: skip
    if "coverage" in table[NETWORK]:
        lines.append(f"Its {interval:.0%} prediction intervals covered "
                     f"{table[NETWORK]['coverage']:.1%} of the test values.")  # fmt: skip
    return lines


def write_csv(result: Backtest, path: Path) -> None:
    """One row per origin and step: the actual value and every method's forecast."""
    K, H = result.actual.shape
    frame = pd.DataFrame({
        "origin": np.repeat(result.origins.astype(str), H), "step": np.tile(np.arange(1, H + 1), K),
        "date": pd.DatetimeIndex(result.dates.ravel()).astype(str), "actual": result.actual.ravel(),
    })  # fmt: skip
    for name, q in result.forecasts.items():
        frame[name] = q[..., q.shape[-1] // 2].ravel()
        if q.shape[-1] > 1:
            frame[f"{name}_lower"], frame[f"{name}_upper"] = q[..., 0].ravel(), q[..., -1].ravel()
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def plot_backtest(result: Backtest, history: pd.Series, path: Path, title: str) -> None:
    """The target, the network's forecasts with their intervals and the best baseline's."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    table = result.scores()
    baselines = [name for name in table if name != NETWORK]
    best = min(baselines, key=lambda name: table[name]["mase"])
    fig = Figure(figsize=(10, 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(history.index, history.to_numpy(), color="black", lw=1, label="actual")
    for k in range(len(result.origins)):
        dates, q = pd.DatetimeIndex(result.dates[k]), result.forecasts[NETWORK][k]
        if q.shape[-1] > 1:
            band = "interval" if k == 0 else None
            ax.fill_between(dates, q[:, 0], q[:, -1], color="C0", alpha=0.2, lw=0, label=band)
        ax.plot(dates, q[:, q.shape[-1] // 2], color="C0", lw=1.5,
                label=NETWORK if k == 0 else None)  # fmt: skip
        b = result.forecasts[best][k]
        ax.plot(dates, b[:, b.shape[-1] // 2], color="C1", lw=1, ls="--",
                label=best if k == 0 else None)  # fmt: skip
    ax.axvline(result.origins[0], color="gray", lw=0.8, ls=":")
    ax.set_title(f"{title}\nMASE {NETWORK} {table[NETWORK]['mase']:.3f}, "
                 f"{best} {table[best]['mase']:.3f}")  # fmt: skip
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def backtest_run(config: ForecastConfig, prepared: Prepared, run_dir: Path) -> dict[str, Any]:
    """Backtest the best weights of a run: ``backtest.csv``, ``backtest.png`` and results."""
    cut = prepared.layout
    model = build_model(config, len(prepared.columns), prepared.covariates.shape[1], cut.horizon)
    load_run_weights(run_dir, model)
    result = run_backtest(model, config, prepared)
    table = result.scores()
    lines = verdict(table, config.model.interval)
    K, H = result.actual.shape
    write_csv(result, run_dir / "backtest.csv")
    series = prepared.series.frame[prepared.series.target]
    shown = series.iloc[max(0, cut.train_end - 4 * H) :]
    title = f"{config.data.source}: {K} origins x {H} steps"
    plot_backtest(result, shown, run_dir / "backtest.png", title)
    heading = (f"backtest: {K} origins x {H} steps = {K * H} values of "
               f"{prepared.series.target!r} from {result.origins[0].date()}")  # fmt: skip
    report = "\n".join([heading, score_table(table), "", *lines])
    return {
        "table": table, "verdict": lines, "report": report, "interval": config.model.interval,
        "folds": K, "horizon": H, "first_origin": str(result.origins[0]),
        "train_steps": int(cut.train_end),
    }  # fmt: skip
