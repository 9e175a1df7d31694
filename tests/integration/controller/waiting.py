"""Polling with a deadline: tests wait for states, never for a fixed time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    timeout_s: float = 30.0,
    what: str = "condition",
) -> T:
    """Calls ``probe`` until ``until(result)`` holds; fails with the last result otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = await probe()
        if until(result):
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {result!r}")
        await asyncio.sleep(0.1)
