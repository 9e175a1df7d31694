"""A polled table, driven through its real loop on a fake clock: it loads at start, again
at each poll, and keeps the last good value when a load fails."""

from __future__ import annotations

import pytest

from sapwood.server.gateway.polling import Polled
from sapwood.testing.clock import FakeClock

pytestmark = pytest.mark.anyio


class Counter(Polled[int]):
    """Loads the next number, or fails while ``failing``."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(0.5, what="numbers", clock=clock)
        self.source = 0
        self.failing = False
        self.value: int | None = None

    async def load(self) -> int:
        if self.failing:
            raise OSError("the store does not answer")
        self.source += 1
        return self.source

    def publish(self, value: int) -> None:
        self.value = value


class PatientCounter(Counter):
    may_start_empty = True


async def poll(table: Counter, clock: FakeClock) -> None:
    """Moves the clock to the table's next poll and waits for it to end."""
    done = table.ticks
    clock.advance(await clock.sleeping())
    await table.wait_ticks(done + 1)


async def test_it_loads_at_start_and_again_at_each_poll() -> None:
    clock = FakeClock()
    table = Counter(clock)
    await table.start()
    try:
        assert table.value is not None  # served from the start
        await table.wait_ticks(1)
        first = table.value
        assert first is not None
        assert await clock.sleeping() == 0.5
        await poll(table, clock)
        assert table.value == first + 1
    finally:
        await table.stop()


async def test_a_failed_poll_keeps_the_last_good_value() -> None:
    clock = FakeClock()
    table = Counter(clock)
    await table.start()
    try:
        await table.wait_ticks(1)
        good = table.value
        assert good is not None
        table.failing = True
        await poll(table, clock)
        assert table.value == good
        table.failing = False
        await poll(table, clock)
        assert table.value == good + 1
    finally:
        await table.stop()


async def test_a_first_load_that_fails_stops_the_start_unless_it_may_start_empty() -> None:
    clock = FakeClock()
    strict = Counter(clock)
    strict.failing = True
    with pytest.raises(OSError, match="does not answer"):
        await strict.start()
    assert not strict.running

    lenient = PatientCounter(clock)
    lenient.failing = True
    await lenient.start()
    try:
        assert lenient.value is None
        lenient.failing = False
        await poll(lenient, clock)
        assert lenient.value == 1  # the first poll that succeeds brings the value
    finally:
        await lenient.stop()
