"""recording/turns.py: recordings are processed one at a time, in turns between those who recorded
them, so that one person's fifty recordings (an attacker's, say) do not hold up everyone else's."""

from __future__ import annotations

import asyncio

from videochat.recording.turns import FairTurns


async def test_one_at_a_time_in_turns_between_people_in_order_within_each():
    turns = FairTurns()
    order: list[str] = []
    running = 0

    async def job(name: str) -> None:
        nonlocal running
        async with turns.turn(name[0]):
            running += 1
            assert running == 1, "two at once"
            order.append(name)
            await asyncio.sleep(0)
            running -= 1

    await asyncio.gather(*(job(name) for name in ("A1", "A2", "A3", "A4", "A5", "B1", "C1", "B2")))
    # B and C waited behind A1 (under way) and one more of A's, not behind all five
    assert order == ["A1", "A2", "B1", "C1", "A3", "B2", "A4", "A5"]
    assert turns.waiting() == 0


async def test_a_waiter_cancelled_leaves_the_line_and_a_turn_given_as_it_is_cancelled_passes_on():
    turns = FairTurns()
    order: list[str] = []
    release = asyncio.Event()

    async def job(name: str) -> None:
        async with turns.turn(name[0]):
            order.append(name)

    async def first_job() -> None:
        async with turns.turn("A"):
            order.append("A1")
            await release.wait()
        given.cancel()  # the turn was just given to C1, which has not run yet: D1 gets it

    first = asyncio.create_task(first_job())
    await asyncio.sleep(0)
    doomed = asyncio.create_task(job("B1"))
    given = asyncio.create_task(job("C1"))
    last = asyncio.create_task(job("D1"))
    await asyncio.sleep(0)
    assert turns.waiting() == 3
    doomed.cancel()  # deleted while waiting: out of the line
    await asyncio.gather(doomed, return_exceptions=True)
    assert turns.waiting() == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(first, given, last, return_exceptions=True), 5.0)  # D1 not left waiting
    assert given.cancelled()
    assert order == ["A1", "D1"]
    assert turns.waiting() == 0
    await asyncio.wait_for(job("E1"), 1.0)  # nothing is stuck
    assert order[-1] == "E1"
