"""The write budget (a sliding minute, caps a run) and the one writer thread."""

import asyncio
import threading

import pytest

from rnnkit.serve.limits import Budget, OverBudget, Writer, WriterBusy


def test_the_budget_slides_over_a_minute_and_caps_the_run():
    now = [1000.0]
    budget = Budget(per_minute=3, max_rows=5, max_bytes=100, clock=lambda: now[0])
    for t in (0, 10, 20):
        now[0] = 1000 + t
        budget.take(10)
    with pytest.raises(OverBudget, match="at most 3 writes a minute; try again in 40 s") as e:
        budget.take(10)
    assert e.value.retry_after == 40  # the first of the three leaves the window at t=60
    now[0] = 1060
    budget.take(10)  # it has left
    budget.give_back(10)  # ... and that one did not happen after all
    assert budget.stats()["rows"] == 3
    now[0] = 2000
    budget.take(10)
    budget.take(10)
    with pytest.raises(OverBudget, match="5 writes .* of at most 5") as e:
        budget.take(10)
    assert e.value.retry_after is None  # only a new run helps
    with pytest.raises(ValueError, match="per_minute must be a positive int, got 0"):
        Budget(per_minute=0, max_rows=1, max_bytes=1)


def test_the_byte_cap_refuses_what_would_pass_it():
    budget = Budget(per_minute=100, max_rows=100, max_bytes=100)
    budget.take(60)
    with pytest.raises(OverBudget, match="60 bytes"):
        budget.take(41)
    budget.take(40)


def test_the_writer_turns_away_writes_past_max_pending():
    release = threading.Event()

    async def main():
        writer = Writer(max_pending=2)
        first = asyncio.ensure_future(writer.run(release.wait))
        second = asyncio.ensure_future(writer.run(lambda: "second"))
        await asyncio.sleep(0)
        with pytest.raises(WriterBusy, match="2 writes are waiting"):
            await writer.run(lambda: "third")
        first.cancel()  # a client that went away: its write still holds the writer
        await asyncio.sleep(0.01)
        assert writer.pending == 2
        release.set()
        assert await second == "second" and writer.pending == 0
        writer.close()

    asyncio.run(main())
