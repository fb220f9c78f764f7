"""Using a trained forecaster: ``rnnkit forecast RUN``, the next values after the data.

    fc = load_run("runs/co2")   # rnnkit.tasks.runner.load_run
    result = forecast(fc, horizon=30)   # after the end of the run's own series
    result = forecast(fc, "new.csv")    # after the end of another file (or bundled series)
    result["forecast"][0]  # {"date": "2002-01-05", "value": 372.4, "lower": 371.6, ...}
    plot_forecast(result, "forecast.png")

A run is loaded from its own files (``config.json``, ``series.json``, ``history.json``,
``model.safetensors``); the data it was trained on need not be there any more: the end of
its series is saved in ``history.json`` at training time. Other data to forecast from is
read with the run's settings (date column, value columns, frequency, missing values; a
bundled series has its own dates) and scaled with the run's scaling: nothing is refitted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.calendar import calendar_features, future_index
from rnnkit.data.registry import parse_source
from rnnkit.data.series import SeriesData
from rnnkit.data.series_file import parse_freq
from rnnkit.data.windows import SeriesScaler
from rnnkit.io import atomic_path
from rnnkit.tasks.base import Loaded
from rnnkit.tasks.forecast.ensemble import with_members
from rnnkit.tasks.forecast.hybrid import Decomposed, Smoothing, network_windows
from rnnkit.tasks.forecast.task import (
    HISTORY_FILE,
    SERIES_FILE,
    forecast_values,
    model_for,
    point_of,
    read_series,
    value_columns,
)

HISTORY_SHOWN = 4  # horizons of history kept in a result (for the plot)


@dataclass
class LoadedForecaster(Loaded):
    """A forecast run (`rnnkit.tasks.runner.load_run`)."""

    series: dict[str, Any]  # series.json: columns, freq, input_length, horizon, scaler
    scaler: SeriesScaler | None  # None for a panel: each series has its own
    history: pd.DataFrame | None  # history.json; None in a run trained before it was saved
    panel: dict[str, LoadedForecaster] | None = None  # a panel run's series, by name

    def one(self, name: str | None = None) -> LoadedForecaster:
        """The forecaster of the panel's series ``name`` (default: the first); of a run of
        one series, itself."""
        if self.panel is None:
            if name is not None and name != self.series["target"]:
                raise ValueError(f"this run forecasts one series, {self.series['target']!r}; "
                                 "leave out the series")  # fmt: skip
            return self
        if name is None:
            return next(iter(self.panel.values()))
        if name not in self.panel:
            names = list(self.panel)
            listed = ", ".join(map(repr, names[:10])) + (", ..." if len(names) > 10 else "")
            raise ValueError(f"this run has no series {name!r}; it forecasts {listed}")
        return self.panel[name]


def read_artefacts(artefacts: dict[str, Any]) -> tuple[dict[str, Any], SeriesScaler | None]:
    """``series.json`` checked, and its scaler (None for a panel's, whose series each have
    one); a damaged file is one clear error."""
    try:
        return _parse_series(artefacts[SERIES_FILE])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{SERIES_FILE} is damaged ({e})") from None


def forecaster_of(run: Loaded) -> LoadedForecaster:
    """``run`` with its series settings, scaler and saved history (`history_file`); for a
    panel, one such forecaster per series, sharing the network."""
    saved, scaler = read_artefacts(run.artefacts)
    model = with_members(run.model, run.config, partial(model_for, run.config, saved), run.run_dir)
    fields = vars(run) | {"model": model}
    if "panel" not in saved:
        history = _history(run, saved)
        return LoadedForecaster(**fields, series=saved, scaler=scaler, history=history)
    panel = {}
    for name, own in saved["panel"].items():
        view, own_scaler = _member(saved, name, own), SeriesScaler.from_dict(own["scaler"])
        history = _history(run, view, name)
        panel[name] = LoadedForecaster(**fields, series=view, scaler=own_scaler, history=history)
    return LoadedForecaster(**fields, series=saved, scaler=None, history=None, panel=panel)


def _member(saved: dict[str, Any], name: str, own: dict[str, Any]) -> dict[str, Any]:
    """The series.json of one series of a panel run: the shared settings and its own (its
    interval factors, written after training, under ``interval_scale`` by series)."""
    shared = {k: v for k, v in saved.items() if k not in ("panel", "interval_scale")}
    scales = saved.get("interval_scale", {})
    scale = {"interval_scale": scales[name]} if name in scales else {}
    return shared | own | scale | {"target": name, "columns": [name], "member": name}


def _history(run: Loaded, series: dict[str, Any], name: str | None = None) -> pd.DataFrame | None:
    """The saved history of the series whose settings are ``series`` (of a panel run, of
    its series ``name``); None where the run has no ``history.json``."""
    if HISTORY_FILE not in run.artefacts:
        return None
    try:
        saved = run.artefacts[HISTORY_FILE]
        return _parse_history(saved if name is None else saved["panel"][name], series)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{run.run_dir / HISTORY_FILE} is missing or damaged ({e})") from None


def _parse_series(saved: dict[str, Any]) -> tuple[dict[str, Any], SeriesScaler | None]:
    for key, kind in (("input_length", int), ("horizon", int), ("columns", list),
                      ("calendar", list), ("freq", str)):  # fmt: skip
        if not isinstance(saved[key], kind):
            raise TypeError(f"{key} must be {kind.__name__}")
    if "panel" in saved:
        if not saved["panel"]:
            raise ValueError("panel has no series")
        if not isinstance(saved.get("interval_scale", {}), dict):
            raise TypeError("interval_scale of a panel must map series to factors")
        for name, own in saved["panel"].items():
            try:
                _check_own(_member(saved, name, own), saved["horizon"])
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"series {name!r}: {e}") from None
        return saved, None
    return saved, _check_own(saved, saved["horizon"])


def _check_own(saved: dict[str, Any], H: int) -> SeriesScaler:
    """The scaler of one series' settings, its smoothing and interval factors checked."""
    if "hybrid" in saved:
        Smoothing.from_dict(saved["hybrid"])
    scale = np.asarray(saved.get("interval_scale", 1.0), dtype=np.float64)
    if scale.shape not in ((), (H,)) or not (np.isfinite(scale).all() and (scale >= 0).all()):
        raise ValueError(f"interval_scale must be a factor >= 0 or {H} of them")
    return SeriesScaler.from_dict(saved["scaler"])


def history_file(
    series: SeriesData, columns: list[str], L: int, H: int, whole: bool = False
) -> dict[str, Any]:
    """``history.json``, saved at training time: what forecasting after the end of the run's
    own series needs, so that neither a forecast nor a server reads the training data. The
    last max(L, `HISTORY_SHOWN` * H) rows of the value columns (the target first) as the run
    read them (gaps filled by its ``data.missing``), with their dates in ISO format; with
    ``whole``, every row (the hybrid strategy smooths the series from its start)."""
    frame = series.frame[columns] if whole else _tail(series, columns, L, H)
    return {"columns": columns, "dates": [d.isoformat() for d in frame.index],
            "values": frame.to_numpy(dtype=np.float64).tolist()}  # fmt: skip


def _parse_history(saved: dict[str, Any], series: dict[str, Any]) -> pd.DataFrame:
    """``history.json`` as a frame of the value columns on their dates (at the run's freq)."""
    columns, L = series["columns"], int(series["input_length"])
    if saved["columns"] != columns:
        raise ValueError(f"columns {saved['columns']} are not those of series.json, {columns}")
    index = pd.DatetimeIndex(saved["dates"], freq=series["freq"], name="date")
    values = np.array(saved["values"], dtype=np.float64)
    if values.shape != (len(index), len(columns)) or len(index) < L:
        raise ValueError(f"values of shape {values.shape}; need ({len(index)}, {len(columns)}) "
                         f"with at least {L} rows")  # fmt: skip
    if not np.isfinite(values).all():
        raise ValueError("values must be finite numbers")
    return pd.DataFrame(values, index=index, columns=columns)


def forecast(
    fc: LoadedForecaster,
    source: str | None = None,
    horizon: int | None = None,
    series: str | None = None,
) -> dict[str, Any]:
    """Forecast ``horizon`` steps (default: the run's) after the last date of ``source``, or
    after the end of the run's own series (its ``history.json``) when ``source`` is None;
    for a panel run, of its series ``series`` (default: the first).

    Returns ``{"target", "freq", "interval", "last_date", "forecast": [{"date", "value",
    "lower", "upper"}, ...], "history": {"dates", "values"}}``: ``value`` is the median (the
    mean for a point-forecast run, whose ``lower``/``upper`` are None).
    """
    fc = fc.one(series)
    saved, H = fc.series, int(fc.series["horizon"])
    horizon = H if horizon is None else horizon
    if not 1 <= horizon <= H:
        advice = f"; train a run with data.horizon={horizon} for longer forecasts"
        raise ValueError(f"this run forecasts 1 to {H} steps, got {horizon}"
                         + (advice if horizon > H else ""))  # fmt: skip
    frame, freq = _recent(fc, source)  # (T, V), the target first
    dates = future_index(frame.index[-1], freq, H)
    covariates = calendar_features(frame.index.append(dates), list(saved["calendar"]))
    values, decomposed = frame.to_numpy(dtype=np.float64), None
    if "hybrid" in saved:  # smoothed from the series' start with the run's parameters
        decomposed = Decomposed.of(Smoothing.from_dict(saved["hybrid"]), values[:, 0])
        values = decomposed.seen(values)
    z, L, end = fc.scaler.transform(values), int(saved["input_length"]), np.array([len(values)])
    batch, origin = network_windows(z, covariates, end, L, H, fc.scaler, decomposed)
    ahead = None if decomposed is None else decomposed.ahead(end, H)
    # One factor per step (older runs: one for all); absent: training did not finish.
    scale = np.asarray(saved.get("interval_scale", 1.0), dtype=np.float64)
    q = forecast_values(fc.model, fc.scaler, batch, origin, fc.config, scale, ahead)[0]  # (H, Q)
    rows = []
    for date, row in zip(dates[:horizon], q[:horizon], strict=True):
        interval = len(row) > 1
        rows.append({
            "date": str(date.date()) if date == date.normalize() else str(date),
            "value": float(point_of(row)),
            "lower": float(row[0]) if interval else None,
            "upper": float(row[-1]) if interval else None,
        })  # fmt: skip
    shown = frame.iloc[-HISTORY_SHOWN * H :, 0]
    return {
        "target": frame.columns[0], "freq": freq, "interval": fc.config.model.interval,
        "last_date": str(frame.index[-1]), "forecast": rows,
        "history": {"dates": [str(d) for d in shown.index], "values": shown.tolist()},
    }  # fmt: skip


def _recent(fc: LoadedForecaster, source: str | None) -> tuple[pd.DataFrame, str]:
    """The end of the series to continue, as many rows as a forecast reads (see
    `history_file`): its value columns, the target first, and its frequency. A file is read
    with the run's settings, on the run's frequency; a bundled series has its own dates."""
    saved = fc.series
    if source is None and fc.history is not None:
        return fc.history, saved["freq"]
    data = fc.config.data  # a run from before history.json reads its own data source again
    data = replace(data, source=source or data.source, freq=saved["freq"])
    if parse_source(data.source).form == "named":
        data = replace(data, date_column=None, freq=None)
    series = read_series(data) if "member" not in saved else _panel_series(data, saved["member"])
    columns = value_columns(series)
    if columns != saved["columns"]:
        raise ValueError(
            f"{series.source} has value columns {columns}; the run was trained on "
            f"{saved['columns']} (choose them with the same data.columns and data.target)"
        )
    if parse_freq(series.freq) != parse_freq(saved["freq"]):
        raise ValueError(f"{series.source} has steps of {series.freq}; the run was trained on "
                         f"steps of {saved['freq']}")  # fmt: skip
    L, H = int(saved["input_length"]), int(saved["horizon"])
    if len(series.frame) < L:
        raise ValueError(f"{series.source} has {len(series.frame)} steps; this run reads the "
                         f"last {L}")  # fmt: skip
    if "hybrid" in saved:
        return series.frame[columns], series.freq
    return _tail(series, columns, L, H), series.freq


def _panel_series(data: Any, name: str) -> SeriesData:
    """The series ``name`` of the panel file ``data`` names."""
    from rnnkit.tasks.forecast.panel import read_panel  # panel imports this module

    panel = read_panel(data)
    if name not in panel:
        raise ValueError(f"{data.source} has no series {name!r}; the run forecasts it")
    return panel[name]


def _tail(series: SeriesData, columns: list[str], L: int, H: int) -> pd.DataFrame:
    """The rows a forecast reads: the last max(L, `HISTORY_SHOWN` * H) of ``columns``."""
    return series.frame[columns].iloc[-max(L, HISTORY_SHOWN * H) :]


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
