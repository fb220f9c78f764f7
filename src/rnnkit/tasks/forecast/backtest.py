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

from rnnkit.io import atomic_write_json
from rnnkit.tasks.forecast.baselines import make_baselines
from rnnkit.tasks.forecast.ensemble import ensemble_note, trained_model
from rnnkit.tasks.forecast.hybrid import swing_grows
from rnnkit.tasks.forecast.metrics import (
    conformal_quantile,
    interval_coverage,
    interval_needs,
    interval_width,
    mase_scale,
    point_scores,
    score_table,
)
from rnnkit.tasks.forecast.outputs import backtest_frame, plot_backtests, shown_history, write_csv
from rnnkit.tasks.forecast.task import (
    CALIBRATION_WINDOWS,
    NETWORK,
    SERIES_FILE,
    ForecastConfig,
    Prepared,
    calibrate_intervals,
    forecast_values,
    point_of,
    quantile_levels,
)
from rnnkit.tasks.runner import read_run_json


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
            f"the backtest cannot start from the {len(history)} steps of training data "
            f"({e}); lower backtest.folds or data.season"
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
    model: nn.Module,
    config: ForecastConfig,
    prepared: Prepared,
    interval_factor: float | np.ndarray = 1.0,
) -> Backtest:
    """Every method's forecasts at the test origins, the network's intervals stretched by
    ``interval_factor`` (one, or (K, H): `rnnkit.tasks.forecast.task.calibrate_intervals`)."""
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
    scales: np.ndarray  # (K + 1, H) the factors the intervals were stretched by

    @property
    def scale(self) -> list[float]:
        """(H,) the factors of a forecast after the series: ``interval_scale`` in series.json."""
        return [float(s) for s in self.scales[-1]]

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
    """Calibrate the intervals of ``model`` on the series' latest known errors, backtest it
    beside the baselines and say what the scores show."""
    cut = prepared.layout
    scales = calibrate_intervals(model, prepared, config)
    result = run_backtest(model, config, prepared, scales[:-1])
    table = result.scores()
    K, H = result.actual.shape
    stride = int(np.diff(cut.test_origins)[0]) if K > 1 else H  # chosen or set
    lines = verdict(table, config.model.interval, *paired_p_values(result, stride))
    plain = config.data.transform == "none" and config.model.strategy != "hybrid"
    if plain and _swing_grows(prepared.values[: cut.train_end, 0], prepared.series.season):
        lines.append("The seasonal swing grows with the level in the training part (a "
                     "multiplicative season fits it better): data.transform=log or "
                     "model.strategy=hybrid may forecast it better.")  # fmt: skip
    if config.model.head != "point":
        lines += _interval_notes(result, scales, config)
    return Assessed(result, table, lines, stride, scales)


def _interval_notes(result: Backtest, scales: np.ndarray, config: ForecastConfig) -> list[str]:
    """How the intervals were calibrated, and what the test values would have needed when
    their coverage is more than 5 points off."""
    level, notes = config.model.interval, []
    if config.model.calibrate:
        first, last = scales[0], scales[-1]
        notes.append(f"(Each step's interval was stretched by the conformal quantile of its "
                     f"latest {CALIBRATION_WINDOWS} known errors: by {first.min():.2f}-"
                     f"{first.max():.2f} at the first origin, {last.min():.2f}-{last.max():.2f} "
                     "for a forecast after the series.)")  # fmt: skip
    seen = np.isfinite(result.actual)
    q = result.forecasts[NETWORK]
    needs = interval_needs(result.actual[seen], q[..., 0][seen], point_of(q)[seen],
                           q[..., -1][seen])  # fmt: skip
    if abs(float(np.mean(needs <= 1)) - level) > 0.05:
        needed = conformal_quantile(needs, level)
        why = ("the test values were harder to forecast than the errors it was calibrated on"
               if needed > 1 else "the test values were easier to forecast than the errors it "
               "was calibrated on")  # fmt: skip
        notes.append(f"Its intervals would have needed {needed:.2f} times their width to "
                     f"cover {level:.0%} of the test values: {why}.")  # fmt: skip
    return notes


def save_interval_scale(run_dir: Path, scale: Any) -> None:
    """Add the interval factors a forecast after the series uses to ``series.json``, beside
    what `build` wrote there (which a resumed or diagnosed run compares, and this is not)."""
    saved = read_run_json(run_dir, SERIES_FILE, dict)
    atomic_write_json(run_dir / SERIES_FILE, saved | {"interval_scale": scale})


def run_notes(config: ForecastConfig, members_s: float, chosen: str) -> str:
    """The lines under a report's heading: the ensemble's cost, the folds chosen."""
    notes = ensemble_note(config, members_s) if config.model.ensemble > 1 else ""
    if chosen:
        notes += f"\n({chosen}; backtest.folds and data.input_length choose otherwise)"
    return notes


def backtest_run(config: ForecastConfig, prepared: Prepared, run_dir: Path) -> dict[str, Any]:
    """Backtest the best weights of a run: ``backtest.csv``, ``backtest.png`` and results."""
    model, members_s = trained_model(config, prepared, run_dir)
    assessed = assess(model, config, prepared)
    save_interval_scale(run_dir, assessed.scale)
    result, table = assessed.result, assessed.table
    write_csv(backtest_frame(result), run_dir / "backtest.csv")
    K, H = result.actual.shape
    title = f"{config.data.source}: {K} origins x {H} steps"
    plot_backtests([(assessed, shown_history(prepared), title)], run_dir / "backtest.png")
    heading = (f"backtest: {K} origins x {H} steps = {K * H} values of "
               f"{prepared.series.target!r} from {result.origins[0].date()}")  # fmt: skip
    heading += run_notes(config, members_s, prepared.layout.chosen)
    report = "\n".join([heading, score_table(table), "", *assessed.lines])
    return assessed.summary(prepared) | {
        "report": report, "interval": config.model.interval,
        "ensemble": config.model.ensemble, "ensemble_seconds": members_s,
    }  # fmt: skip
