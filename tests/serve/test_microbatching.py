"""Micro-batching: requests that arrive while the model is busy share the next pass."""

import asyncio
import threading

import pytest

from rnnkit.serve.batching import MicroBatcher


def test_waiting_requests_share_a_batch_and_get_their_own_answers():
    release = threading.Event()
    seen: list[list[int]] = []

    def run(items):
        release.wait(5)  # the first batch blocks until the rest has queued up
        seen.append(list(items))
        return [item * 10 for item in items]

    async def main():
        batcher = MicroBatcher(run, max_batch=4)
        first = asyncio.create_task(batcher.submit(0))
        await asyncio.sleep(0.05)  # the worker is now busy with [0]
        rest = [asyncio.create_task(batcher.submit(i)) for i in range(1, 7)]
        await asyncio.sleep(0.05)
        release.set()
        results = await asyncio.gather(first, *rest)
        batcher.close()
        return results, batcher.stats()

    results, stats = asyncio.run(main())
    assert results == [0, 10, 20, 30, 40, 50, 60]
    assert seen == [[0], [1, 2, 3, 4], [5, 6]]  # capped at max_batch, in arrival order
    assert stats == {"batches": 3, "requests": 7, "mean_batch": 7 / 3, "largest_batch": 4}


def test_an_error_reaches_only_the_request_that_causes_it():
    calls: list[list[str]] = []

    def run(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    async def main():
        batcher = MicroBatcher(run)
        results = await asyncio.gather(
            batcher.submit("x"), batcher.submit("bad"), batcher.submit("y"), return_exceptions=True
        )
        after = await batcher.submit("ok")
        batcher.close()
        return results, after

    results, after = asyncio.run(main())
    assert results[0] == "X" and results[2] == "Y"
    assert isinstance(results[1], ValueError)
    assert calls == [["x", "bad", "y"], ["x"], ["bad"], ["y"], ["ok"]]  # the batch, one by one
    assert after == "OK"


def test_max_batch_is_checked():
    with pytest.raises(ValueError, match="max_batch must be a positive int"):
        MicroBatcher(list, max_batch=0)
