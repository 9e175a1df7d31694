"""One base for the server's background loops, paced by the injected clock.

A loop runs ``tick()`` again after its interval, or sooner when woken; a tick may ask for
its own next delay. Waiting goes through ``Clock.sleep``, so a test that hands the loop a
``FakeClock`` drives the real loop by advancing time, and learns that a round is done
from ``ticks`` and ``wait_ticks``. A tick that raises is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from sapwood.server.clock import Clock

log = logging.getLogger("sapwood.loop")


class Loop(ABC):
    """Subclasses implement ``tick``; ``start`` and ``stop`` come with the lifespan."""

    name = "loop"

    def __init__(self, *, clock: Clock, interval_s: float) -> None:
        self.clock = clock
        self.interval_s = interval_s
        self.begun = 0  # rounds started
        self.ticks = 0  # rounds finished, failed ones included
        self._wake = asyncio.Event()
        self._ticked = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def tick(self) -> float | None:
        """One round; returns the seconds until the next one (None: the interval)."""

    async def on_stop(self) -> None:
        """Releases what the loop holds, once its task has ended."""
        return None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=f"sapwood-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.on_stop()

    def wake(self) -> None:
        """Asks for the next round now rather than after the wait."""
        self._wake.set()

    async def wait_ticks(self, count: int) -> None:
        """Returns once ``count`` rounds have finished in all."""
        async with self._ticked:
            await self._ticked.wait_for(lambda: self.ticks >= count)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            delay: float | None = None
            self.begun += 1
            try:
                delay = await self.tick()
            except Exception:  # the loop never dies; the next round starts afresh
                log.exception("%s: round failed", self.name)
            await self._pause(self.interval_s if delay is None else delay)

    async def _finished(self) -> None:
        self.ticks += 1
        async with self._ticked:
            self._ticked.notify_all()

    async def _pause(self, seconds: float) -> None:
        """Counts the round finished once its wait has begun (a test that advances the
        clock as soon as ``wait_ticks`` returns moves this wait), then waits ``seconds``
        on the clock, or until woken."""
        sleep = asyncio.ensure_future(self.clock.sleep(max(0.0, seconds)))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.sleep(0)  # both waits start, the clock's sleep counts from now
            await self._finished()
            if not self._wake.is_set():
                await asyncio.wait({sleep, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            woken.cancel()
