"""Rolling-origin backtest of a forecasting run against simple baselines, told plainly.

At each of the K test origins every method forecasts the next H steps from the history up
to that origin (the network from its last L steps, with the weights trained on the data
before the first origin; each baseline refitted on the whole history). All methods are
scored on the same K x H values of the target in its own units: MAE, RMSE, sMAPE, MASE
(scaled by the in-sample seasonal-naive error of the training part) and, for prediction
intervals, the share of values they covered and their mean width in MASE's units (a high
coverage bought with very wide intervals shows as such). The verdict says whether the
network beats repeating the last value, and by how much, or that it does not.

Shapes: K origins, H horizon, Q quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from rnnkit.io import atomic_path, atomic_write_json
from rnnkit.tasks.forecast.baselines import make_baselines
from rnnkit.tasks.forecast.ensemble import ensemble_note, trained_model
from rnnkit.tasks.forecast.hybrid import swing_grows
from rnnkit.tasks.forecast.metrics import (
    interval_coverage,
    interval_width,
    mase_scale,
    point_scores,
    score_table,
)
from rnnkit.tasks.forecast.task import (
    SERIES_FILE,
    ForecastConfig,
    Prepared,
    calibrate_intervals,
    forecast_values,
    point_of,
    quantile_levels,
)
from rnnkit.tasks.runner import read_run_json

NETWORK = "rnnkit"


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


@dataclass
class Backtest:
    """Every method's forecasts at the K origins and the values that came."""

    origins: pd.DatetimeIndex  # (K,) the first forecast date of each origin
    dates: np.ndarray  # (K, H) the forecast dates
    actual: np.ndarray  # (K, H)
    forecasts: dict[str, np.ndarray]  # method -> (K, H, Q) quantiles (Q = 1: point only)
    scale: float  # the MASE denominator

    def scores(self) -> dict[str, dict[str, float]]:
        table = {}
        seen = np.isfinite(self.actual)  # (K, H): values observed, not filled in
        for name, q in self.forecasts.items():
            row = point_scores(self.actual[seen], point_of(q)[seen], self.scale)
            if q.shape[-1] > 1:
                lower, upper = q[..., 0][seen], q[..., -1][seen]
                row["coverage"] = interval_coverage(self.actual[seen], lower, upper)
                row["width"] = interval_width(lower, upper, self.scale)  # in MASE units
            table[name] = row
        return table


def run_backtest(
    model: nn.Module, config: ForecastConfig, prepared: Prepared, interval_factor: float = 1.0
) -> Backtest:
    cut, series = prepared.layout, prepared.series
    levels = quantile_levels(config.model)
    target = prepared.values[:, 0]  # filled causally: a history never holds later values
    steps = cut.test_origins[:, None] + np.arange(cut.horizon)  # (K, H) rows
    # A filled value was never observed: it is not scored (NaN in actual).
    observed = np.where(series.holes[series.target].to_numpy(), np.nan, target)
    batch, origin = prepared.batch(cut.test_origins)
    ahead = prepared.ahead(cut.test_origins)
    own = forecast_values(model, prepared.scaler, batch, origin, config, interval_factor, ahead)
    forecasts = {NETWORK: own}
    for baseline in make_baselines(baseline_names(config, series.season), series.season):
        forecasts[baseline.name] = np.stack(
            [baseline.forecast(target[:o], cut.horizon, levels) for o in cut.test_origins]
        )
    return Backtest(
        origins=series.frame.index[cut.test_origins],
        dates=series.frame.index.to_numpy()[steps],
        actual=observed[steps],
        forecasts=forecasts,
        scale=mase_scale(target[: cut.train_end], series.season),
    )


SIGNIFICANCE = 0.05  # a difference with a larger p-value is reported as chance


def paired_p_values(result: Backtest, stride: int) -> tuple[dict[str, float], int]:
    """p-value of the network against each baseline: a paired t-test of their mean absolute
    errors at the origins. The steps of one forecast are not independent, so they are
    averaged first; origins whose forecasts overlap (``stride`` below the horizon) are not
    either, so only origins a horizon apart take part. 1.0 when fewer than 2 do, or when
    nothing differs. Returns the p-values and how many origins took part."""
    from scipy.stats import ttest_rel

    H = result.actual.shape[1]
    every = -(-H // stride)  # ceil(H / stride): origins whose forecasts do not overlap

    def per_origin(q: np.ndarray) -> np.ndarray:
        return np.nanmean(np.abs(result.actual - point_of(q)), axis=1)[::every]  # (K',)

    net = per_origin(result.forecasts[NETWORK])
    out = {}
    for name, q in result.forecasts.items():
        other = per_origin(q)
        same = len(net) < 2 or np.allclose(net, other)
        out[name] = 1.0 if same else float(ttest_rel(net, other).pvalue)
    return out, len(net)


def _compare(net: float, other: float, p: float, origins: int) -> tuple[str, bool]:
    """("MASE a against b, x% lower (p = ...)", whether the network is better beyond chance)."""
    change = 1 - net / other
    side = f"{change:.0%} lower" if change >= 0 else f"{-change:.0%} higher"
    test = f"paired t-test over {origins} origins: p = {p:.2g}"
    return f"MASE {net:.3f} against {other:.3f}, {side} ({test})", net < other and p < SIGNIFICANCE


def verdict(
    table: dict[str, dict[str, float]],
    interval: float,
    p_values: dict[str, float] | None = None,
    origins: int = 0,
) -> list[str]:
    """Plain sentences on what the numbers show, and do not show. Without ``p_values`` every
    difference counts as real."""
    p_values = p_values or {}
    net = table[NETWORK]["mase"]
    text, better = _compare(net, table["naive"]["mase"], p_values.get("naive", 0.0), origins)
    naive = "the naive forecast (the last value repeated)"
    if better:
        lines = [f"The network beats {naive}: {text}."]
    elif net < table["naive"]["mase"]:
        lines = [f"The network does NOT show skill over {naive}: {text}, a difference within "
                 "chance. Treat its forecasts as no better than the last value."]  # fmt: skip
    else:
        lines = [f"The network does NOT beat {naive}: {text}. Its forecasts show no skill on "
                 "this series; the naive forecast is the one to use."]  # fmt: skip
    others = {name: row["mase"] for name, row in table.items() if name not in (NETWORK, "naive")}
    if others:
        best = min(others, key=others.__getitem__)
        text, better = _compare(net, others[best], p_values.get(best, 0.0), origins)
        if better:
            lines.append(f"It also beats the best other baseline, {best}: {text}.")
        elif net < others[best]:
            lines.append(f"Against the best other baseline, {best}, it is not better beyond "
                         f"chance: {text}.")  # fmt: skip
        elif p_values.get(best, 0.0) < SIGNIFICANCE:
            lines.append(f"{best} is better than the network: {text}.")
        else:
            lines.append(f"{best} scored a lower MASE than the network, a difference within "
                         f"chance: {text}.")  # fmt: skip
    if "coverage" in table[NETWORK]:
        lines.append(f"Its {interval:.0%} prediction intervals covered "
                     f"{table[NETWORK]['coverage']:.1%} of the test values.")  # fmt: skip
    return lines


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
    return series.frame[series.target].iloc[max(0, cut.train_end - 4 * cut.horizon) :]


def _swing_grows(y: np.ndarray, season: int | None) -> bool:
    """`swing_grows`, or False where the smoothing cannot be fitted: a hint is not worth
    losing a finished run's report."""
    try:
        return swing_grows(y, season)
    except (ValueError, np.linalg.LinAlgError):
        return False


@dataclass
class Assessed:
    """One series' backtest, scored and told: what `assess` returns."""

    result: Backtest
    table: dict[str, dict[str, float]]
    lines: list[str]  # the verdict, and hints
    stride: int  # steps between the origins
    scale: float  # the factor the intervals were stretched by

    def summary(self, prepared: Prepared) -> dict[str, Any]:
        """The results of the series: its table, verdict and how it was cut."""
        K, H = self.result.actual.shape
        return {
            "table": self.table, "verdict": self.lines, "folds": K, "horizon": H,
            "first_origin": str(self.result.origins[0]), "stride": self.stride,
            "input_length": prepared.layout.input_length,
            "train_steps": int(prepared.layout.train_end), "interval_scale": self.scale,
        }  # fmt: skip


def assess(model: nn.Module, config: ForecastConfig, prepared: Prepared) -> Assessed:
    """Calibrate the intervals of ``model`` on the series' validation windows, backtest it
    beside the baselines and say what the scores show."""
    cut = prepared.layout
    scale = calibrate_intervals(model, prepared, config)
    result = run_backtest(model, config, prepared, scale)
    table = result.scores()
    K, H = result.actual.shape
    stride = int(np.diff(cut.test_origins)[0]) if K > 1 else H  # chosen or set
    lines = verdict(table, config.model.interval, *paired_p_values(result, stride))
    plain = config.data.transform == "none" and config.model.strategy != "hybrid"
    if plain and _swing_grows(prepared.values[: cut.train_end, 0], prepared.series.season):
        lines.append("The seasonal swing grows with the level in the training part (a "
                     "multiplicative season fits it better): data.transform=log or "
                     "model.strategy=hybrid may forecast it better.")  # fmt: skip
    if config.model.head != "point" and config.model.calibrate:
        lines.append(f"(Its intervals were stretched by {scale:.2f} to cover "
                     f"{config.model.interval:.0%} of the validation windows.)")  # fmt: skip
    return Assessed(result, table, lines, stride, scale)


def backtest_run(config: ForecastConfig, prepared: Prepared, run_dir: Path) -> dict[str, Any]:
    """Backtest the best weights of a run: ``backtest.csv``, ``backtest.png`` and results."""
    cut = prepared.layout
    model, members_s = trained_model(config, prepared, run_dir)
    assessed = assess(model, config, prepared)
    saved = read_run_json(run_dir, SERIES_FILE, dict)
    atomic_write_json(run_dir / SERIES_FILE, saved | {"interval_scale": assessed.scale})
    result, table = assessed.result, assessed.table
    write_csv(backtest_frame(result), run_dir / "backtest.csv")
    K, H = result.actual.shape
    title = f"{config.data.source}: {K} origins x {H} steps"
    plot_backtests([(assessed, shown_history(prepared), title)], run_dir / "backtest.png")
    heading = (f"backtest: {K} origins x {H} steps = {K * H} values of "
               f"{prepared.series.target!r} from {result.origins[0].date()}")  # fmt: skip
    if config.model.ensemble > 1:
        heading += ensemble_note(config, members_s)
    if cut.chosen:
        heading += f"\n({cut.chosen}; backtest.folds and data.input_length choose otherwise)"
    report = "\n".join([heading, score_table(table), "", *assessed.lines])
    return assessed.summary(prepared) | {
        "report": report, "interval": config.model.interval,
        "ensemble": config.model.ensemble, "ensemble_seconds": members_s,
    }  # fmt: skip
