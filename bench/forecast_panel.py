"""The forecasting development panel: five real series statsmodels ships, each backtested
with the network's strategies side by side, scored against every baseline, in one run.

Series and horizons (one season, or a few steps for a yearly series): CO2 weekly (H 52,
bundled), sunspots yearly (H 11, bundled), Nile yearly flow (``nile``, H 5), US real GDP
quarterly (``macrodata``, H 8), El Nino monthly sea surface temperature (``elnino``,
H 12). The last three are written to CSV files first. Everything else is ``rnnkit train
forecast``'s defaults: the folds and input length it chooses for the series' length.

Printed per strategy: each series' MASE for the network and every baseline, whether the
network is at or below the best baseline, its 90% interval coverage and the seconds the run
took (training, backtest and baselines); then the wins, the geometric mean of the network's
MASE relative to ETS, and how many coverages lie within 85-95%.

usage: python bench/forecast_panel.py [SECTION.KEY=VALUE ...] [--strategies seq2seq hybrid]
                                     [--series nile ...]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.tasks import runner

HORIZONS = {"co2": 52, "sunspots": 11, "nile": 5, "realgdp": 8, "elnino": 12}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _write(path: Path, dates: list[str], values, name: str) -> Path:
    lines = [f"date,{name}"] + [f"{d},{v}" for d, v in zip(dates, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def gdp_csv(folder: Path) -> Path:
    """US real GDP, 1959Q1-2009Q3 (203 quarters), as ``date,realgdp``."""
    from statsmodels.datasets import macrodata

    frame = macrodata.load_pandas().data
    dates = [
        f"{int(y)}-{3 * int(q) - 2:02d}-01" for y, q in zip(frame.year, frame.quarter, strict=True)
    ]
    return _write(folder / "realgdp.csv", dates, frame.realgdp, "realgdp")


def nile_csv(folder: Path) -> Path:
    """The Nile's yearly flow at Aswan, 1871-1970 (100 years), as ``date,volume``."""
    from statsmodels.datasets import nile

    frame = nile.load_pandas().data
    return _write(
        folder / "nile.csv", [f"{int(y)}-01-01" for y in frame.year], frame.volume, "volume"
    )


def elnino_csv(folder: Path) -> Path:
    """Monthly sea surface temperature of the El Nino region, 1950-2010, as ``date,sst``."""
    from statsmodels.datasets import elnino

    frame = elnino.load_pandas().data
    dates, values = [], []
    for _, row in frame.iterrows():
        for month, name in enumerate(MONTHS, start=1):
            dates.append(f"{int(row.YEAR)}-{month:02d}-01")
            values.append(row[name])
    return _write(folder / "elnino.csv", dates, values, "sst")


def sources(folder: Path) -> dict[str, str]:
    return {"co2": "co2", "sunspots": "sunspots", "nile": str(nile_csv(folder)),
            "realgdp": str(gdp_csv(folder)), "elnino": str(elnino_csv(folder))}  # fmt: skip


def run(source: str, horizon: int, strategy: str, out: Path, extra: list[str]) -> dict:
    overrides = [f"data.source={json.dumps(source)}", f"data.horizon={horizon}",
                 f"model.strategy={strategy}", *extra]  # fmt: skip
    start = time.perf_counter()
    _, result = runner.train("forecast", out, quiet=True, overrides=overrides)
    return result.results | {"seconds": time.perf_counter() - start}


def report(strategy: str, rows: dict[str, dict]) -> None:
    baselines = list(dict.fromkeys(b for r in rows.values() for b in r["table"] if b != "rnnkit"))
    head = "".join(f"{name:>15}" for name in baselines)
    print(f"\n{strategy}: MASE (folds x horizon)")
    print(f"{'series':<10}{'rnnkit':>9}{head}{'':>4}{'coverage':>9}{'seconds':>8}  folds")
    wins, ratios, held = 0, [], 0
    for name, results in rows.items():
        table = results["table"]
        net = table["rnnkit"]["mase"]
        best = min(row["mase"] for name, row in table.items() if name != "rnnkit")
        wins += net <= best
        if "ets" in table:
            ratios.append(net / table["ets"]["mase"])
        coverage = table["rnnkit"].get("coverage", math.nan)
        held += 0.85 <= coverage <= 0.95
        cells = "".join(f"{table[b]['mase']:>15.3f}" if b in table else f"{'-':>15}"
                        for b in baselines)  # fmt: skip
        mark = "win" if net <= best else "loss"
        print(f"{name:<10}{net:>9.3f}{cells}{mark:>5}{coverage:>9.1%}{results['seconds']:>8.0f}"
              f"  {results['folds']} x {results['horizon']}")  # fmt: skip
    geo = math.exp(np.mean(np.log(ratios))) if ratios else math.nan
    print(f"at or below the best baseline on {wins} of {len(rows)} (target 4); geometric mean "
          f"of MASE / ETS {geo:.3f} (target <= 0.9); coverage within 85-95% on {held} of "
          f"{len(rows)} (target 4)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", nargs="+", default=["seq2seq", "hybrid"])
    parser.add_argument("--series", nargs="+", choices=list(HORIZONS), default=list(HORIZONS))
    parser.add_argument("overrides", nargs="*", help="SECTION.KEY=VALUE for every run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        where = sources(Path(folder))
        for strategy in args.strategies:
            rows = {}
            for name in args.series:
                out = Path(folder) / f"{strategy}-{name}"
                rows[name] = run(where[name], HORIZONS[name], strategy, out, args.overrides)
            report(strategy, rows)


if __name__ == "__main__":
    main()
