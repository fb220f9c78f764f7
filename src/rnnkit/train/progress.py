"""What the user watches: a progress bar per epoch and a one-line summary after it.

The bar (loss, tokens or samples per second, ETA) is drawn only on an interactive terminal;
in scripts and CI the epoch summaries alone are printed, and ``quiet`` silences both.
Every figure shown here is also written to ``metrics.jsonl`` by the trainer.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _si(value: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"


class ProgressReporter:
    """Draws the epoch bar and prints epoch summaries on stderr (rank 0 only)."""

    def __init__(self, quiet: bool = False, unit: str = "tok", enabled: bool = True) -> None:
        self.quiet = quiet or not enabled
        self.unit = unit
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.interactive = sys.stderr.isatty() and not self.quiet
        self._progress: Progress | None = None
        self._task: Any = None

    def start_epoch(self, epoch: int, epochs: int, total: int, done: int = 0) -> None:
        if not self.interactive:
            return
        self._progress = Progress(
            TextColumn(f"epoch {epoch + 1}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=total, completed=done, stats="")

    def update(self, advance: int, loss: float, rate: float) -> None:
        if self._progress is not None:
            stats = f"loss {loss:.4f}  {_si(rate)} {self.unit}/s"
            self._progress.update(self._task, advance=advance, stats=stats)

    def end_epoch(self, summary: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self.quiet:
            return
        self.console.print(format_summary(summary, self.unit))

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)


def format_summary(summary: dict[str, Any], unit: str = "tok") -> str:
    """``epoch 2/5  train_loss 1.2345  val_loss 1.3012  41.2k tok/s  12.3s``."""
    parts = [f"epoch {summary['epoch'] + 1}/{summary['epochs']}"]
    for key, value in summary.items():
        if key in ("epoch", "epochs", "seconds", "rate", "kind", "step"):
            continue
        parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    parts.append(f"{_si(summary['rate'])} {unit}/s")
    parts.append(f"{summary['seconds']:.1f}s")
    return "  ".join(parts)
