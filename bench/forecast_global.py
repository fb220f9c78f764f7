"""One network for many series against one network per series, on a real panel: the eight
quarterly US macroeconomic level series statsmodels ships (``macrodata``, 1959Q1-2009Q3,
203 quarters each): real GDP, consumption, investment, government spending and disposable
income, CPI, M1 and population. H 8 (two years), everything else ``rnnkit train forecast``'s
defaults (the folds and input length it chooses for 203 quarters).

For each strategy: the eight series trained one network each (``data.columns=[name]``),
then all eight by one network (``data.panel=true``); printed per series the MASE of both
next to ETS, ARIMA and the best baseline, the global network's coverage, and per
configuration the series won, the geometric mean of MASE relative to ETS and the seconds.

usage: python bench/forecast_global.py [SECTION.KEY=VALUE ...] [--strategies seq2seq hybrid]
       python bench/forecast_global.py --csv FOLDER     (only write FOLDER/macro.csv)
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from rnnkit.tasks import runner
from rnnkit.tasks.forecast.panel import geometric_mean

SERIES = ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop")
HORIZON = 8


def macro_csv(folder: Path) -> Path:
    """The eight series as ``date,realgdp,...,pop``, one row per quarter."""
    from statsmodels.datasets import macrodata

    frame = macrodata.load_pandas().data
    dates = [f"{int(y)}-{3 * int(q) - 2:02d}-01" for y, q in zip(frame.year, frame.quarter,
                                                                    strict=True)]  # fmt: skip
    table = frame[list(SERIES)].assign(date=dates)[["date", *SERIES]]
    path = folder / "macro.csv"
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def train(out: Path, overrides: list[str]) -> tuple[dict, float]:
    start = time.perf_counter()
    _, result = runner.train("forecast", out, quiet=True, overrides=overrides)
    return result.results, time.perf_counter() - start


def compare(source: Path, strategy: str, folder: Path, extra: list[str]) -> None:
    common = [f"data.source={json.dumps(str(source))}", f"data.horizon={HORIZON}",
              f"model.strategy={strategy}", *extra]  # fmt: skip
    local, local_s = {}, 0.0
    for name in SERIES:
        results, seconds = train(
            folder / f"{strategy}-{name}", [*common, f'data.columns=["{name}"]']
        )
        local[name], local_s = results["table"], local_s + seconds
    panel, panel_s = train(folder / f"{strategy}-panel", [*common, "data.panel=true"])
    tables = {name: panel["series"][name]["table"] for name in SERIES}
    print(f"\n{strategy}: MASE, {HORIZON} quarters ahead "
          f"({panel['series'][SERIES[0]]['folds']} origins)")  # fmt: skip
    print(f"{'series':<10}{'one each':>10}{'one for all':>12}{'ets':>8}{'arima':>8}"
          f"{'best baseline':>22}{'coverage':>10}")  # fmt: skip
    for name in SERIES:
        table = tables[name]
        best = min((b for b in table if b != "rnnkit"), key=lambda b: table[b]["mase"])
        print(f"{name:<10}{local[name]['rnnkit']['mase']:>10.3f}{table['rnnkit']['mase']:>12.3f}"
              f"{table['ets']['mase']:>8.3f}{table['arima']['mase']:>8.3f}"
              f"{best:>15} {table[best]['mase']:.3f}"
              f"{table['rnnkit']['coverage']:>10.1%}")  # fmt: skip
    for label, per, seconds in (("one network each", local, local_s),
                                ("one network for all", tables, panel_s)):  # fmt: skip
        wins = sum(t["rnnkit"]["mase"] <= min(r["mase"] for b, r in t.items() if b != "rnnkit")
                   for t in per.values())  # fmt: skip
        geo = geometric_mean(t["rnnkit"]["mase"] / t["ets"]["mase"] for t in per.values())
        held = sum(0.85 <= t["rnnkit"]["coverage"] <= 0.95 for t in per.values())
        print(
            f"{label}: at or below the best baseline on {wins} of {len(per)}, geometric mean "
            f"of MASE / ETS {geo:.3f}, coverage within 85-95% on {held}, {seconds:.0f} s"
        )
    best_geo = min(
        (b for b in tables[SERIES[0]] if b != "rnnkit"),
        key=lambda b: geometric_mean(t[b]["mase"] / t["ets"]["mase"] for t in tables.values()),
    )
    value = geometric_mean(t[best_geo]["mase"] / t["ets"]["mase"] for t in tables.values())
    print(f"best baseline over the panel: {best_geo}, geometric mean of MASE / ETS {value:.3f}"
          if math.isfinite(value) else "")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", nargs="+", default=["seq2seq", "hybrid"])
    parser.add_argument("overrides", nargs="*", help="SECTION.KEY=VALUE for every run")
    parser.add_argument("--csv", metavar="FOLDER", help="only write macro.csv into FOLDER")
    args = parser.parse_args()
    if args.csv:
        if (Path(args.csv) / "macro.csv").exists():
            raise SystemExit(f"{Path(args.csv) / 'macro.csv'} exists; give another folder")
        print(f"wrote {macro_csv(Path(args.csv))}")
        return
    with tempfile.TemporaryDirectory() as folder:
        source = macro_csv(Path(folder))
        for strategy in args.strategies:
            compare(source, strategy, Path(folder), args.overrides)


if __name__ == "__main__":
    main()
