"""Proves `shared.service.reminding`: a start that waits (the consumer's partitions) says so at each
interval, returns the awaited result, passes its error on, and is cancelled with its caller."""

from __future__ import annotations

import asyncio

import pytest

from shared.service import reminding

pytestmark = pytest.mark.asyncio


async def _after(delay_s: float, result):
    await asyncio.sleep(delay_s)
    return result


async def test_a_long_wait_reminds_at_each_interval_and_returns_the_result():
    reminders: list[float] = []
    third = asyncio.Event()

    def remind(waited_s: float) -> None:
        reminders.append(waited_s)
        if len(reminders) == 3:
            third.set()

    async def assigned_after_three_reminders():
        await third.wait()
        return "assigned"

    # a reminder every 0.05 s, each saying the time waited so far; the wait ends after the third
    assert await reminding(assigned_after_three_reminders(), 0.05, remind) == "assigned"
    assert reminders == pytest.approx([0.05, 0.10, 0.15])


async def test_a_quick_start_says_nothing():
    reminders: list[float] = []
    assert await reminding(_after(0, 42), 1.0, reminders.append) == 42
    assert reminders == []


async def test_the_awaited_error_reaches_the_caller():
    async def refused():
        raise ConnectionError("broker refused")

    with pytest.raises(ConnectionError, match="broker refused"):
        await reminding(refused(), 1.0, lambda _: None)


async def test_cancelling_the_caller_cancels_what_it_waited_for():
    waited = asyncio.ensure_future(asyncio.sleep(60))
    caller = asyncio.ensure_future(reminding(waited, 1.0, lambda _: None))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert waited.cancelled()
