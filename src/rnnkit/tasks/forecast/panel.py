"""Many series, one network: a panel (``data.panel=true``, or a long-format file).

The M4 competition's lesson: a network fitted to one short series loses to exponential
smoothing; one trained on the windows of many series learns patterns no single series has
enough of. A panel run reads every series of a file (`rnnkit.data.panel`), prepares each as
a run of one series is prepared (its own cut by time, scaling and, for the hybrid strategy,
smoothing: `rnnkit.tasks.forecast.task.prepare_series`), and trains one network on all their
training windows, choosing its best epoch on all their validation windows. The windows are
relative to each series' level and scaled by the size of its own steps, so series of any
size share one network. One layout serves all (`panel_layouts`): the same horizon, input
length, folds and stride, each series' origins counted back from its own end, and training
data that ends for every series at one date, the earliest first origin of any.

After training, each series is calibrated and backtested on its own as a run of one series
is (`rnnkit.tasks.forecast.backtest.assess`), and the panel table sets their MASE side by
side, with the geometric mean over the series of each method's MASE relative to ETS's
(naive's when ETS is not among the baselines), the summary the M4 competition ranked by.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd
import torch

from rnnkit.data.panel import is_long, load_panel
from rnnkit.data.series import SeriesData
from rnnkit.data.series_file import show_date
from rnnkit.tasks.forecast.backtest import (
    NETWORK,
    assess,
    check_backtest,
    run_notes,
    save_interval_scale,
)
from rnnkit.tasks.forecast.ensemble import trained_model
from rnnkit.tasks.forecast.layout import (
    MIN_TRAIN_WINDOWS,
    BacktestConfig,
    Layout,
    attempts,
    choose_layout,
    chosen,
    fits,
    layout,
)
from rnnkit.tasks.forecast.metrics import score_table
from rnnkit.tasks.forecast.outputs import backtest_frame, plot_backtests, shown_history, write_csv
from rnnkit.tasks.forecast.task import (
    HISTORY_FILE,
    SERIES_FILE,
    DataConfig,
    ForecastConfig,
    Prepared,
    prepare_series,
    series_file,
)
from rnnkit.tasks.forecast.use import history_file

VALUE = "value"  # the one value column of a panel's network
SHARED = ("freq", "season", "input_length", "horizon", "calendar")  # series.json, one for all
PLOTTED = 4  # series drawn in backtest.png


def is_panel(data: DataConfig) -> bool:
    """Whether a run reads a panel: ``data.panel``, ``data.id_column`` or a long-format file."""
    return data.panel or is_long(data.source, data.id_column)


def read_panel(data: DataConfig) -> dict[str, SeriesData]:
    """The series of the panel ``data`` names, by name."""
    return load_panel(
        data.source, wide=not is_long(data.source, data.id_column), id_column=data.id_column,
        target=data.target, columns=data.columns, date_column=data.date_column, freq=data.freq,
        missing=data.missing, max_gap=data.max_gap, season=data.season,
    )  # fmt: skip


@dataclass
class Panel:
    """The prepared series of a panel, by name: what one network trains and is tested on."""

    members: dict[str, Prepared]

    @property
    def first(self) -> Prepared:
        """The series whose shapes the network takes (all have one value column)."""
        return next(iter(self.members.values()))

    def part(self, name: Literal["train", "val"]) -> dict[str, Any]:
        """The training or validation windows of every series, one after another."""
        parts = [member.part(name) for member in self.members.values()]
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}


T = TypeVar("T")
U = TypeVar("U")


def each(items: Iterable[tuple[str, T]], work: Callable[[T], U]) -> dict[str, U]:
    """``work`` on each named item; a ValueError names the series it came from."""
    done = {}
    for name, item in items:
        try:
            done[name] = work(item)
        except ValueError as e:
            raise ValueError(f"series {name!r}: {e}") from None
    return done


def prepare_panel(config: ForecastConfig) -> Panel:
    """Read the panel and prepare each series, cut as `panel_layouts` says."""
    panel = read_panel(config.data)
    cuts = panel_layouts(panel, config)
    members = each(panel.items(), lambda s: prepare_series(config, s, cuts[s.target]))
    each(members.items(), lambda p: check_backtest(config, p))
    return Panel(members)


def panel_layouts(panel: dict[str, SeriesData], config: ForecastConfig) -> dict[str, Layout]:
    """Each series' layout: the same folds, stride and input length for all (with
    ``backtest.folds`` unset, the first of `attempts` that every series has room for), and
    training data that ends for all at one date, the earliest first origin of any series.
    Series move together: a network trained on one series' values after another's origin
    would forecast that one knowing its future. Series that end together lose nothing."""
    data, backtest = config.data, config.backtest
    L, H, tries = attempts(data, backtest, next(iter(panel.values())).season)  # settings checked
    start = 0  # no attempt before the one the most demanding series needs alone can fit all
    for name, series in panel.items():  # a series too short on its own is named as such
        try:
            choose_layout(len(series.frame), data, backtest, series.season)
        except ValueError as e:
            raise ValueError(f"series {name!r}: {e}") from None
        T = len(series.frame)
        start = max(start, next(i for i, (K, stride, length) in enumerate(tries)
                                if fits(T, length, H, BacktestConfig(K, stride))))  # fmt: skip
    why = ""
    for K, stride, length in tries[start:]:
        cuts = _common_cut(panel, length, H, BacktestConfig(K, stride, backtest.baselines))
        if isinstance(cuts, str):
            why = cuts
            continue
        if backtest.folds is None:
            for cut in cuts.values():
                cut.chosen = chosen("the panel", K, stride, length, L)
        return cuts
    if backtest.folds is None:  # `why` is of the last attempt, the least demanding
        K, stride, length = tries[-1]
        raise ValueError(
            f"{why}, even with {K} origins {stride} apart and input length {length}; leave it "
            "out of the panel, or shorten data.horizon"
        )
    raise ValueError(f"{why}; leave it out of the panel, or lower backtest.folds, "
                     "data.input_length or data.horizon")  # fmt: skip


def _common_cut(
    panel: dict[str, SeriesData], L: int, H: int, backtest: BacktestConfig
) -> dict[str, Layout] | str:
    """The series' layouts with their training data ending at the earliest first origin
    of any series; where one does not fit, why not (a one-line message)."""
    firsts = {}
    for name, series in panel.items():
        first = len(series.frame) - H - (backtest.folds - 1) * backtest.stride
        if first < 1:
            return f"series {name!r} has {len(series.frame)} steps, too few for the panel's layout"
        firsts[name] = series.frame.index[first]
    setter = min(firsts, key=firsts.__getitem__)  # the series whose origin cuts them all
    cuts = {}
    for name, series in panel.items():
        end = int(series.frame.index.searchsorted(firsts[setter]))  # first row on or after
        try:
            cuts[name] = layout(len(series.frame), L, H, backtest, train_end=end)
        except ValueError:
            return (f"series {name!r} has too few steps before {show_date(firsts[setter])}, "
                    "where the panel's training data ends (the first backtest origin of "
                    f"series {setter!r}), for {MIN_TRAIN_WINDOWS} training windows")  # fmt: skip
    return cuts


def panel_files(config: ForecastConfig, panel: Panel) -> dict[str, Any]:
    """``series.json`` and ``history.json`` of a panel run: the settings all series share,
    and each series' scaling, smoothing, last date and history under ``panel``."""
    shared = series_file(config, panel.first)
    members, histories = {}, {}
    for name, prepared in panel.members.items():
        own = series_file(config, prepared)
        members[name] = {k: own[k] for k in ("scaler", "last_date", "hybrid") if k in own}
        cut = prepared.layout
        L, H, whole = cut.input_length, cut.horizon, prepared.decomposed is not None
        histories[name] = history_file(prepared.series, prepared.columns, L, H, whole)
    series = {k: shared[k] for k in SHARED} | {"target": VALUE, "columns": [VALUE]}
    return {SERIES_FILE: series | {"panel": members}, HISTORY_FILE: {"panel": histories}}


def backtest_panel(config: ForecastConfig, panel: Panel, run_dir: Path) -> dict[str, Any]:
    """Backtest the run's network on each series of the panel: ``backtest.csv`` (a ``series``
    column first), ``backtest.png`` (the first `PLOTTED` series), the panel table."""
    model, members_s = trained_model(config, panel, run_dir)
    assessed = each(panel.members.items(), lambda p: assess(model, config, p))
    save_interval_scale(run_dir, {name: a.scale for name, a in assessed.items()})
    frames = [backtest_frame(a.result).assign(series=name) for name, a in assessed.items()]
    frame = pd.concat(frames, ignore_index=True)
    write_csv(frame[["series", *frame.columns[:-1]]], run_dir / "backtest.csv")
    shown = [(a, shown_history(panel.members[name]), f"series {name}")
             for name, a in list(assessed.items())[:PLOTTED]]  # fmt: skip
    plot_backtests(shown, run_dir / "backtest.png")
    summary = panel_summary({name: a.table for name, a in assessed.items()}, config.model.interval)
    H, L = panel.first.layout.horizon, panel.first.layout.input_length
    cut = min(p.series.frame.index[p.layout.train_end] for p in panel.members.values())
    heading = (f"panel: {len(assessed)} series, one network trained on their values before "
               f"{show_date(cut)}; each backtested from its own origins, {H} steps ahead "
               f"(input length {L})")  # fmt: skip
    heading += run_notes(config, members_s, panel.first.layout.chosen)
    report = "\n".join([heading, summary["text"], "", *summary["verdict"]])
    return {
        "series": {name: a.summary(panel.members[name]) for name, a in assessed.items()},
        "panel": {k: v for k, v in summary.items() if k != "text"}, "report": report,
        "interval": config.model.interval, "horizon": H, "input_length": L,
        "ensemble": config.model.ensemble, "ensemble_seconds": members_s,
    }  # fmt: skip


def geometric_mean(values: Iterable[float]) -> float:
    logs = [math.log(v) for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else math.nan


def panel_summary(tables: dict[str, dict[str, dict[str, float]]], interval: float) -> dict:
    """The panel table (each series' MASE by method and the network's coverage, then the
    geometric mean of MASE relative to the reference method) and what it shows."""
    methods = list(next(iter(tables.values())))
    reference = "ets" if "ets" in methods else "naive"
    # Series where a ratio is not a positive number (a perfect reference) count for none.
    ratios = {n: {m: t[m]["mase"] / t[reference]["mase"] if t[reference]["mase"] > 0
                  else math.nan for m in methods} for n, t in tables.items()}  # fmt: skip
    usable = [r for r in ratios.values() if all(math.isfinite(v) and v > 0 for v in r.values())]
    relative = {m: geometric_mean(r[m] for r in usable) for m in methods}
    rows: dict[str, dict[str, float]] = {
        name: {m: t[m]["mase"] for m in methods} | {"coverage": t[NETWORK].get("coverage")}
        for name, t in tables.items()
    }
    rows[f"geometric mean / {reference}"] = dict(relative)
    has_intervals = "coverage" in next(iter(tables.values()))[NETWORK]
    columns = [*methods, "coverage"] if has_intervals else methods
    text = "MASE by series\n" + score_table(rows, columns, label="series")
    N = len(tables)
    baselines = {m: v for m, v in relative.items() if m != NETWORK}
    wins = [
        n for n, t in tables.items() if t[NETWORK]["mase"] <= min(t[m]["mase"] for m in baselines)
    ]
    best = min(baselines, key=lambda m: baselines[m] if math.isfinite(baselines[m]) else math.inf)
    better = "better" if relative[NETWORK] < baselines[best] else "NOT better"
    verdict = [
        f"The network's MASE is at or below every baseline's on {len(wins)} of {N} series.",
        f"Geometric mean of MASE relative to {reference}: the network {relative[NETWORK]:.3f}, "
        f"the best baseline ({best}) {baselines[best]:.3f}: the network is {better} on the "
        "typical series."
        if usable
        else f"No series has a MASE ratio to {reference} for every method: no geometric mean.",
    ]
    if usable and len(usable) < N:
        verdict.append(f"({N - len(usable)} of {N} series left out of the geometric means: "
                       "a MASE of 0, or none, has no ratio.)")  # fmt: skip
    out = {"wins": len(wins), "series": N, "relative_to": reference, "geomean": relative,
           "text": text, "verdict": verdict}  # fmt: skip
    if has_intervals:
        coverage = {n: t[NETWORK]["coverage"] for n, t in tables.items()}
        held = [n for n, c in coverage.items() if abs(c - interval) <= 0.05 + 1e-9]
        missed = ", ".join(f"{n} {c:.0%}" for n, c in coverage.items() if n not in held)
        verdict.append(f"Its {interval:.0%} intervals covered {interval - 0.05:.0%}-"
                       f"{interval + 0.05:.0%} of the test values on {len(held)} of {N} series"
                       + (f" (outside: {missed})." if missed else "."))  # fmt: skip
        out["coverage_held"] = len(held)
    return out
