"""Limits on what clients may make a server write: a write budget and one writer thread.

    budget = Budget(per_minute=30, max_rows=1000, max_bytes=1 << 20)
    budget.take(nbytes)        # OverBudget (with retry_after) when over a limit, else counted
    budget.give_back(nbytes)   # the write did not happen after all
    writes = Writer(max_pending=8)
    await writes.run(fn, *args)  # fn(*args) on the writer thread; WriterBusy when too many wait

A route that writes for anyone who can reach the server takes from a `Budget` first, so a
flood adds at most ``max_rows`` rows and ``max_bytes`` bytes in one server run, at most
``per_minute`` a minute. The writes run on a `Writer`'s one thread, never on the event loop
nor in the thread pool that sync routes share, so a slow disk or a locked database holds up
only the writes, and only ``max_pending`` of them: the rest are told to come back at once.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["Budget", "OverBudget", "Writer", "WriterBusy"]


class OverBudget(Exception):
    """A write over a `Budget`. ``retry_after``: seconds until one fits again, or None when
    none will in this server run."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WriterBusy(Exception):
    """A `Writer` already has ``max_pending`` writes waiting."""


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class Budget:
    """At most ``per_minute`` writes in any 60 seconds, and ``max_rows`` writes and
    ``max_bytes`` bytes in all (the life of the object: one server run). Thread-safe."""

    def __init__(
        self,
        per_minute: int,
        max_rows: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = _positive(per_minute, "per_minute")
        self.max_rows = _positive(max_rows, "max_rows")
        self.max_bytes = _positive(max_bytes, "max_bytes")
        self.clock = clock
        self.rows = self.bytes = 0
        self._recent: deque[float] = deque()  # when each write of the last minute was taken
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> None:
        """Count one write of ``nbytes``, or raise `OverBudget` and count nothing."""
        with self._lock:
            now = self.clock()
            while self._recent and self._recent[0] <= now - 60:
                self._recent.popleft()
            if self.rows + 1 > self.max_rows or self.bytes + nbytes > self.max_bytes:
                raise OverBudget(
                    f"this server takes no more: {self.rows:,} writes ({self.bytes:,} bytes) "
                    f"of at most {self.max_rows:,} ({self.max_bytes:,} bytes) a run",
                    None,
                )
            if len(self._recent) >= self.per_minute:
                wait = max(1, math.ceil(self._recent[0] + 60 - now))
                raise OverBudget(
                    f"at most {self.per_minute:,} writes a minute; try again in {wait} s", wait
                )
            self._recent.append(now)
            self.rows += 1
            self.bytes += nbytes

    def give_back(self, nbytes: int) -> None:
        """Uncount the latest write taken, of ``nbytes``: it did not happen."""
        with self._lock:
            if self._recent:
                self._recent.pop()
            self.rows = max(0, self.rows - 1)
            self.bytes = max(0, self.bytes - nbytes)

    def stats(self) -> dict[str, int]:
        return {"rows": self.rows, "bytes": self.bytes, "max_rows": self.max_rows,
                "max_bytes": self.max_bytes, "per_minute": self.per_minute}  # fmt: skip


class Writer:
    """Runs blocking writes on one thread of its own, at most ``max_pending`` (default 8)
    at a time: running or waiting. Use from the event loop."""

    def __init__(self, max_pending: int = 8) -> None:
        self.max_pending = _positive(max_pending, "max_pending")
        self.pending = 0  # submitted and not finished, counted by the thread pool's future
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-writer")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer's thread; `WriterBusy` at once when too many wait.
        A write whose client went away still counts until it has finished."""
        with self._lock:
            if self.pending >= self.max_pending:
                raise WriterBusy(f"{self.pending} writes are waiting already; try again")
            self.pending += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:  # closed: the server is stopping
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return await asyncio.wrap_future(future)

    def _finished(self, _: Future[Any] | None) -> None:
        with self._lock:
            self.pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
