"""How many threads the trainer computes with: the cores other processes leave free.

On a busy machine a trainer that keeps one thread per core loses far more than the cores it
shares: torch's threads wait for each other at every operation, so one slow thread slows
all. `ThreadPolicy` looks, for a tenth of a second before training and then about once a second
while training, at how much CPU time the other processes took on this process's cores since
it last looked (``/proc/stat`` less this
process's own time), and sets torch's thread count to the cores they left free: all of them
on a quiet machine, fewer while something else runs, all again when it stops.

``RNNKIT_THREADS`` overrides it: a number fixes the count, ``all`` keeps every core (the
behaviour without a policy); ``OMP_NUM_THREADS``, where set, is left alone. Only Linux has
``/proc/stat``; elsewhere the count stays as torch set it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

STAT = Path("/proc/stat")
WINDOW = 1.0  # seconds of CPU accounting behind each decision
FIRST_WINDOW = 0.1  # the look taken before training starts, so its first step is decided


def _cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def _busy_seconds(cores: list[int]) -> float | None:
    """CPU seconds the ``cores`` have spent busy since boot (every process), or None."""
    try:
        lines = STAT.read_text().splitlines()
    except OSError:
        return None
    wanted, busy = {f"cpu{c}" for c in cores}, 0
    for line in lines:
        name, *fields = line.split()
        if name in wanted:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
            busy += user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


class ThreadPolicy:
    """Call `adapt` before each step and `restore` after training (see the module)."""

    def __init__(self) -> None:
        self.cores = _cores()
        setting = os.environ.get("RNNKIT_THREADS", "").strip().lower()
        self.active = not setting and "OMP_NUM_THREADS" not in os.environ
        if setting and setting != "all":
            if not setting.isdigit() or int(setting) < 1:
                raise ValueError(f"RNNKIT_THREADS must be a positive number or 'all', got "
                                 f"{setting!r}")  # fmt: skip
            torch.set_num_threads(int(setting))
        self.most = torch.get_num_threads()
        self.active = self.active and self.most > 1 and _busy_seconds(self.cores) is not None
        self.last: tuple[float, float, float] | None = None  # wall, all busy, own CPU seconds
        self.window = FIRST_WINDOW
        if self.active:  # decide before the first step: on a busy machine it is the slowest
            self.others()
            time.sleep(FIRST_WINDOW)
            self.adapt()

    def others(self) -> float | None:
        """Cores the other processes kept busy since the last reading, or None: at the first
        reading, and while less than `WINDOW` seconds have passed since the last (a call
        costs a clock read then, so it may come at every step)."""
        wall = time.perf_counter()
        before = self.last
        if before is not None and wall - before[0] < self.window:
            return None
        now = (wall, _busy_seconds(self.cores) or 0.0, time.process_time())
        self.last = now
        if before is None:
            return None
        self.window = WINDOW
        wall, busy, own = (a - b for a, b in zip(now, before, strict=True))
        return max(0.0, (busy - own) / wall)

    def adapt(self) -> int:
        """Set torch's thread count to the cores left free (at least 1); returns it."""
        if self.active:
            others = self.others()
            if others is not None:
                free = len(self.cores) - int(others + 0.5)
                torch.set_num_threads(max(1, min(self.most, free)))
        return torch.get_num_threads()

    def restore(self) -> None:
        """Every core again (for what follows training: evaluation, serving)."""
        if self.active:
            torch.set_num_threads(self.most)
