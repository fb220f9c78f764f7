"""Micro-batching: concurrent requests share one forward pass.

Requests that arrive while the model is busy wait in a queue; when it frees up, all of them
(up to ``max_batch``) go through it together. Nothing waits for a batch to fill: a request on
an idle server starts at once, and under load the batches grow by themselves. The model runs
on one worker thread, so the event loop keeps accepting connections meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    """``await batcher.submit(item)`` -> ``run([...items])[i]`` for this item.

    ``run`` takes a list of items and returns one result per item, in order; if it raises,
    every request of that batch gets the exception.
    """

    def __init__(self, run: Callable[[Sequence[In]], Sequence[Out]], max_batch: int = 32) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        self.run, self.max_batch = run, max_batch
        self._queue: list[tuple[In, asyncio.Future[Out]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-model")
        self.sizes: Counter[int] = Counter()  # batch size -> how many batches had it

    async def submit(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self.sizes[len(batch)] += 1
            try:
                results = await loop.run_in_executor(
                    self._executor, self.run, [item for item, _ in batch]
                )
            except Exception as e:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # a client that went away cancelled its future
                    future.set_result(result)

    def stats(self) -> dict[str, float]:
        batches = sum(self.sizes.values())
        requests = sum(size * n for size, n in self.sizes.items())
        return {
            "batches": batches,
            "requests": requests,
            "mean_batch": requests / batches if batches else 0.0,
            "largest_batch": max(self.sizes, default=0),
        }

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
