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

    ``run`` takes a list of items and returns one result per item, in order. When it raises
    on a batch, the batch's items are run again one at a time, so only a request that fails
    on its own gets its exception.
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
            items = [item for item, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor, self.run, items)
            except Exception as e:  # handed to the requests it concerns, found one by one
                one = len(batch) == 1
                results = [e] if one else [await self._alone(loop, item) for item in items]
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # a client that went away cancelled its future
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _alone(self, loop: asyncio.AbstractEventLoop, item: In) -> Out | Exception:
        try:
            return (await loop.run_in_executor(self._executor, self.run, [item]))[0]
        except Exception as e:
            return e

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
