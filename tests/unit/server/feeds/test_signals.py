"""Lease long-polls wake when records arrive, including records that arrived while the
poll was still looking for work (between its look and its wait)."""

from __future__ import annotations

import asyncio

import pytest

from sapwood.server.ingest.signals import FeedSignals

pytestmark = pytest.mark.anyio


async def test_an_arrival_during_the_look_ends_the_wait_at_once() -> None:
    signals = FeedSignals()
    mark = signals.mark("feed-a")
    signals.notify("feed-a")  # records committed while the poll queried the broker
    assert await signals.wait("feed-a", 5.0, since=mark) is True  # not a 5 s timeout


async def test_a_wait_ends_when_records_arrive_and_not_for_another_feed() -> None:
    signals = FeedSignals()
    mark = signals.mark("feed-a")
    waiting = asyncio.create_task(signals.wait("feed-a", 5.0, since=mark))
    await asyncio.sleep(0)
    signals.notify("feed-b")
    await asyncio.sleep(0)
    assert not waiting.done()
    signals.notify("feed-a")
    assert await waiting is True


async def test_a_wait_with_no_arrival_times_out() -> None:
    signals = FeedSignals()
    assert await signals.wait("feed-a", 0.01, since=signals.mark("feed-a")) is False
