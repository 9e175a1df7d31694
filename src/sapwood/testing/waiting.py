"""Waiting for a state with a deadline: tests wait for what they expect, never for a time.

``eventually`` polls an async probe, ``eventually_sync`` a blocking one. Both return the
probe's first result that ``until`` accepts (by default, the first truthy one), and fail
with an ``AssertionError`` naming what was awaited and the last result seen, so a test
that times out says how far it got. The deadline is real time: what a test waits for here
is a real process, server or loop, not the fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["eventually", "eventually_sync"]

T = TypeVar("T")

_NOTHING_YET = "nothing yet"


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.05,
    what: str = "the condition",
) -> T:
    """Awaits ``probe()`` until ``until(result)`` holds and returns that result.

    A probe that hangs past the deadline is cancelled and fails the wait the same way.
    """
    deadline = anyio.current_time() + timeout_s
    last: object = _NOTHING_YET
    while True:
        with anyio.move_on_after(max(deadline - anyio.current_time(), 0.0)) as scope:
            result = await probe()
        if scope.cancelled_caught:
            raise AssertionError(
                f"timed out waiting for {what} (the probe did not answer); last seen: {last!r}"
            )
        if until(result):
            return result
        last = result
        await anyio.sleep(interval_s)
        if anyio.current_time() >= deadline:  # checked after the pause: the last probe had time
            raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def eventually_sync(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.05,
    what: str = "the condition",
) -> T:
    """Calls ``probe()`` until ``until(result)`` holds and returns that result."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if until(result):
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {result!r}")
        time.sleep(interval_s)
