"""The forecaster's command: ``rnnkit forecast RUN``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.tasks.base import Command
from rnnkit.tasks.runner import load_run_of


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run directory from rnnkit train forecast")
    p.add_argument("--data", help="the series to continue (default: the run's data.source)")
    p.add_argument("--horizon", type=int, help="steps to forecast (default: the run's)")
    p.add_argument("--series", metavar="ID", help="of a panel run, the series to forecast "
                   "(default: its first)")  # fmt: skip
    p.add_argument("--plot", help="write history, forecast and interval to this PNG")
    p.add_argument("--force", action="store_true", help="replace --plot if it exists")
    p.add_argument("--json", action="store_true", help="print JSON")


def _check_plot(path: Path, force: bool) -> None:
    """Refuse a --plot path that cannot take a new file, before any work is done."""
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'forecast.png'}")
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"{path.parent} is a file, not a folder; give a path in a folder")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist; create it first")
    if path.exists() and not force:
        raise ValueError(f"{path} already exists; pass --force to replace it")


def _forecast(args: argparse.Namespace) -> int:
    from rnnkit.tasks.forecast.use import format_forecast, plot_forecast

    if args.plot:
        _check_plot(Path(args.plot), args.force)
    fc = load_run_of("forecast", args.run)
    (result,) = fc.task.predict(fc, [args.data], horizon=args.horizon, series=args.series)
    if args.plot:
        plot_forecast(result, args.plot)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2))
    else:
        print(format_forecast(result))
        if fc.panel is not None and args.series is None and len(fc.panel) > 1:
            print(f"(series {result['target']!r}, the first of {len(fc.panel)}: --series "
                  "chooses another)")  # fmt: skip
        if args.plot:
            print(f"wrote {args.plot}")
    return 0


COMMANDS = (
    Command("forecast", "forecast the steps after a series with a run", _arguments, _forecast),
)
