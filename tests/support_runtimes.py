"""Waiting on a runtime: a unit's observed state once it is what a test expects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sapwood.server.runtimes.base import UnitKey, UnitState
from sapwood.testing.waiting import eventually


async def observed(
    observe: Callable[[], Awaitable[list[UnitState]]],
    key: UnitKey,
    predicate: Callable[[UnitState], bool],
    *,
    timeout_s: float = 10.0,
) -> UnitState:
    """The unit's observed state once ``predicate`` holds for it; fails with the last seen."""

    async def state() -> UnitState | None:
        return next((s for s in await observe() if s.key == key), None)

    found = await eventually(
        state, lambda s: s is not None and predicate(s), timeout_s=timeout_s, what=f"{key}"
    )
    assert found is not None
    return found
