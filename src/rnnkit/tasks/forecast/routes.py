"""What a forecast run serves under ``rnnkit serve``: ``GET /forecast``.

    GET /forecast?horizon=12[&series=ID]
      -> {"target", "freq", "interval", "last_date", "forecast": [{"date", "value", "lower",
          "upper"}, ...], "history": {"dates", "values"}}

The series continued is the run's own, its end as saved in the run's ``history.json`` at
training time: no request reads the training data (which need not be there any more). A
horizon outside what the run was trained for, or a series a panel run lacks, gets a 422.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from rnnkit.tasks.base import Section
from rnnkit.tasks.forecast.use import LoadedForecaster, forecast

STATIC = Path(__file__).parent / "static"
WHICH = "of a panel run, the series to forecast (default: its first)"


def forecaster(fc: LoadedForecaster) -> Section:
    """The ``/forecast`` route and page section of a forecast run."""
    router = APIRouter()
    trained = int(fc.series["horizon"])

    @router.get("/forecast")
    def ahead(
        horizon: int = Query(trained, description=f"steps to forecast, 1 to {trained}"),
        series: str | None = Query(None, description=WHICH),
    ) -> dict[str, Any]:
        try:
            return forecast(fc, None, horizon, series)
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None

    def health() -> dict[str, Any]:
        columns = fc.series["columns"] if fc.panel is None else list(fc.panel)
        panel = {} if fc.panel is None else {"series": list(fc.panel)}
        return {"target_columns": columns, "freq": fc.series["freq"],
                "horizon": trained} | panel  # fmt: skip

    return Section(router, "forecast", STATIC / "forecast.html", STATIC / "forecast.js",
                   health=health)  # fmt: skip
