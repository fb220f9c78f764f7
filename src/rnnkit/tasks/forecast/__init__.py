"""Time-series forecasting: ``rnnkit train forecast``, the next values of a series.

The task object: `rnnkit.tasks.forecast.task` prepares windows and builds the model,
`.backtest` scores the best weights against the baselines of `.baselines` with the metrics
of `.metrics`, `.use` loads a run and forecasts, `.commands` adds ``rnnkit forecast`` and
`.routes` serves ``GET /forecast`` and its page section.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.tasks.base import Built, Command, Loaded, Option, Section, Task, register
from rnnkit.tasks.forecast.task import (
    HISTORY_FILE,
    SERIES_FILE,
    ForecastConfig,
    batches,
    model_for,
    model_of,
    prepare,
    series_file,
)
from rnnkit.train.distributed import Context


class ForecastTask(Task):
    name = "forecast"
    summary = "the next values of a series, backtested against statistical baselines"
    config_class = ForecastConfig
    artefacts = (SERIES_FILE,)
    optional_artefacts = (HISTORY_FILE,)  # runs trained before it was saved lack it
    train_options = (
        Option("--target", "data.target", "forecast: the column to forecast", metavar="COLUMN"),
        Option("--horizon", "data.horizon", "forecast: steps ahead", type=int, metavar="N"),
    )

    def build(self, config: ForecastConfig, context: Context) -> Built:
        from rnnkit.tasks.forecast.backtest import backtest_run, check_backtest
        from rnnkit.tasks.forecast.panel import is_panel
        from rnnkit.tasks.forecast.use import history_file

        if is_panel(config.data):
            return self._build_panel(config, context)
        prepared = prepare(config)  # bad data fails here, before a run directory exists
        check_backtest(config, prepared)
        cut = prepared.layout
        model = model_of(config, prepared)
        train, val = batches(config, prepared, context)

        def finish(run_dir: Path) -> dict[str, Any]:
            return backtest_run(config, prepared, run_dir)

        files = {
            SERIES_FILE: series_file(config, prepared),
            HISTORY_FILE: history_file(prepared.series, prepared.columns, cut.input_length,
                                       cut.horizon, whole=prepared.decomposed is not None),
        }  # fmt: skip
        return Built(model, train, val, files=files, finish=finish)

    def _build_panel(self, config: ForecastConfig, context: Context) -> Built:
        from rnnkit.tasks.forecast.panel import backtest_panel, panel_files, prepare_panel

        panel = prepare_panel(config)  # bad data fails here, before a run directory exists
        train, val = batches(config, panel, context)

        def finish(run_dir: Path) -> dict[str, Any]:
            return backtest_panel(config, panel, run_dir)

        model = model_of(config, panel)
        return Built(model, train, val, files=panel_files(config, panel), finish=finish)

    def upgrade(self, saved: dict[str, Any], version: int) -> dict[str, Any]:
        """A run saves every setting, so one it lacks is older than the setting: such a run
        trained one network (no ``model.ensemble``), whole windows for every member (no
        ``model.lookbacks``) and scaled changes by their spread (no ``data.step_scale``)."""
        saved = super().upgrade(saved, version)
        model, data = saved.get("model", {}), saved.get("data", {})
        older = {"ensemble": 1, "lookbacks": [1.0]}
        model = {key: value for key, value in older.items() if key not in model} | model
        data = ({} if "step_scale" in data else {"step_scale": "std"}) | data
        return saved | {"model": model, "data": data}

    def model(self, config: ForecastConfig, artefacts: dict[str, Any]) -> nn.Module:
        from rnnkit.tasks.forecast.use import read_artefacts

        return model_for(config, read_artefacts(artefacts)[0])

    def loaded(self, run: Loaded) -> Any:
        from rnnkit.tasks.forecast.use import forecaster_of

        return forecaster_of(run)

    def predict(
        self,
        loaded: Any,
        inputs: Sequence[Any],
        horizon: int | None = None,
        series: str | None = None,
    ) -> list[dict[str, Any]]:
        """One forecast of ``horizon`` steps (default: the run's) per input: a data source to
        continue, or None for the run's own series (its saved history); of a panel run, of
        its series ``series`` (default: the first)."""
        from rnnkit.tasks.forecast.use import forecast

        return [forecast(loaded, source, horizon, series) for source in inputs]

    def format_results(self, results: dict[str, Any]) -> str:
        return results["report"]

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.forecast.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.forecast.routes import forecaster

        return forecaster(loaded, **options)


TASK = register(ForecastTask())
