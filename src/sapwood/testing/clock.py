"""A clock that moves only when told: for controllers, backoff and expiry in tests.

``sleep`` waits for the fake time to pass, so a background loop paced by this clock runs
its next round when the test advances time past it (``sleep(0)`` only yields).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._slept: asyncio.Event | None = None  # set when a sleep begins

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), waiter))
        if self._slept is not None:
            self._slept.set()
        await waiter

    async def sleeping(self) -> float:
        """Waits until something sleeps on this clock; returns the fake seconds until the
        soonest sleep ends. ``advance`` by that much ends it: a test steps a loop (or a
        retry's wait) to its next moment without guessing when it began to wait."""
        while True:
            pending = [at for at, _, waiter in self._sleepers if not waiter.done()]
            if pending:
                return max(0.0, min(pending) - self._mono)
            self._slept = asyncio.Event()
            await self._slept.wait()
