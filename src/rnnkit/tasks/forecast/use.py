"""Using a trained forecaster: ``rnnkit forecast RUN``, the next values after the data.

    fc = load_run("runs/co2")   # rnnkit.tasks.runner.load_run
    result = forecast(fc, "new.csv", horizon=30)   # None: the run's own data source
    result["forecast"][0]  # {"date": "2002-01-05", "value": 372.4, "lower": 371.6, ...}
    plot_forecast(result, "forecast.png")

A run is loaded from its own files (``config.json``, ``series.json``, ``model.safetensors``);
the data it was trained on need not be there any more. The data to forecast from is read
with the run's settings (date column, value columns, frequency, missing values) and scaled
with the run's scaling: nothing is refitted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.calendar import calendar_features, future_index
from rnnkit.data.windows import SeriesScaler, windows
from rnnkit.io import atomic_path
from rnnkit.tasks.base import Loaded, Task
from rnnkit.tasks.forecast.task import (
    SERIES_FILE,
    forecast_values,
    load_model,
    point_of,
    read_series,
    value_columns,
)
from rnnkit.tasks.runner import read_run_json, saved_config

HISTORY_SHOWN = 4  # horizons of history kept in a result (for the plot)


@dataclass
class LoadedForecaster(Loaded):
    """A forecast run (`rnnkit.tasks.runner.load_run`)."""

    series: dict[str, Any]  # series.json: columns, freq, input_length, horizon, scaler
    scaler: SeriesScaler


def load_forecaster(task: Task, run_dir: str | Path) -> LoadedForecaster:
    """The model of a ``rnnkit train forecast`` run, in eval mode on the CPU."""
    path, config = saved_config(run_dir, task)
    saved, scaler = read_run_json(path, SERIES_FILE, _parse_series)
    model = load_model(config, saved, path)
    return LoadedForecaster(task, config, model, path, {SERIES_FILE: saved}, saved, scaler)


def _parse_series(saved: dict[str, Any]) -> tuple[dict[str, Any], SeriesScaler]:
    for key, kind in (("input_length", int), ("horizon", int), ("columns", list),
                      ("calendar", list), ("freq", str)):  # fmt: skip
        if not isinstance(saved[key], kind):
            raise TypeError(f"{key} must be {kind.__name__}")
    return saved, SeriesScaler.from_dict(saved["scaler"])


def forecast(
    fc: LoadedForecaster, source: str | None = None, horizon: int | None = None
) -> dict[str, Any]:
    """Forecast ``horizon`` steps (default: the run's) after the last date of ``source``.

    Returns ``{"target", "freq", "interval", "last_date", "forecast": [{"date", "value",
    "lower", "upper"}, ...], "history": {"dates", "values"}}``: ``value`` is the median (the
    mean for a point-forecast run, whose ``lower``/``upper`` are None).
    """
    saved, H = fc.series, int(fc.series["horizon"])
    horizon = H if horizon is None else horizon
    if not 1 <= horizon <= H:
        advice = "" if horizon < 1 else f"; train with --horizon {horizon} for longer forecasts"
        raise ValueError(f"this run forecasts 1 to {H} steps, got --horizon {horizon}{advice}")
    data = fc.config.data
    series = read_series(replace(data, source=source or data.source, freq=saved["freq"]))
    columns = value_columns(series)
    if columns != saved["columns"]:
        raise ValueError(
            f"{series.source} has value columns {columns}; the run was trained on "
            f"{saved['columns']} (choose them with the same data.columns and data.target)"
        )
    L = int(saved["input_length"])
    values = series.frame[columns].to_numpy(dtype=np.float64)
    if len(values) < L:
        raise ValueError(f"{series.source} has {len(values)} steps; this run reads the last {L}")
    dates = future_index(series.frame.index[-1], series.freq, H)
    covariates = calendar_features(series.frame.index.append(dates), list(saved["calendar"]))
    z = fc.scaler.transform(values)
    batch, origin = windows(z, covariates, np.array([len(z)]), L, H, fc.scaler.relative)
    scale = float(saved.get("interval_scale", 1.0))  # absent: training did not finish
    q = forecast_values(fc.model, fc.scaler, batch, origin, fc.config, scale)[0]  # (H, Q)
    rows = []
    for date, row in zip(dates[:horizon], q[:horizon], strict=True):
        interval = len(row) > 1
        rows.append({
            "date": str(date.date()) if date == date.normalize() else str(date),
            "value": float(point_of(row)),
            "lower": float(row[0]) if interval else None,
            "upper": float(row[-1]) if interval else None,
        })  # fmt: skip
    shown = series.frame[series.target].iloc[-HISTORY_SHOWN * H :]
    return {
        "target": series.target, "freq": series.freq, "interval": fc.config.model.interval,
        "last_date": str(series.frame.index[-1]), "forecast": rows,
        "history": {"dates": [str(d) for d in shown.index], "values": shown.tolist()},
    }  # fmt: skip


def format_forecast(result: dict[str, Any]) -> str:
    """The forecast as an aligned table, one line a date."""
    interval = result["forecast"][0]["lower"] is not None
    band = f"{result['interval']:.0%} interval" if interval else ""
    lines = [f"{'date':<20} {result['target']:>18}  {band}"]
    for row in result["forecast"]:
        extra = f"{row['lower']:>12.6g} .. {row['upper']:<12.6g}" if interval else ""
        lines.append(f"{row['date']:<20} {row['value']:>18.6g}  {extra}".rstrip())
    return "\n".join(lines)


def plot_forecast(result: dict[str, Any], path: str | Path) -> Path:
    """History, forecast and its interval as a PNG, written atomically."""
    import pandas as pd
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    fig = Figure(figsize=(9, 4), dpi=100)
    ax = fig.add_subplot()
    history = result["history"]
    ax.plot(pd.DatetimeIndex(history["dates"]), history["values"], color="black", lw=1,
            label="history")  # fmt: skip
    rows = result["forecast"]
    dates = pd.DatetimeIndex([row["date"] for row in rows])
    ax.plot(dates, [row["value"] for row in rows], color="C0", lw=1.5, label="forecast")
    if rows[0]["lower"] is not None:
        ax.fill_between(dates, [r["lower"] for r in rows], [r["upper"] for r in rows],
                        color="C0", alpha=0.25, lw=0,
                        label=f"{result['interval']:.0%} interval")  # fmt: skip
    ax.set_title(f"{result['target']}: {len(rows)} steps after {result['last_date'][:10]}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
