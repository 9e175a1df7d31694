"""The overview's capacity comes through the controller's port: what the runtime reports,
or "unknown" (None) when there is no controller or it does not answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sapwood.server.controller.port import ControllerFigures, ControllerPort
from sapwood.server.dashboard.data import capacity
from sapwood.server.units import Capacity

pytestmark = pytest.mark.anyio


class StandIn:
    """A controller as the dashboard sees it, and no more."""

    runtime_name = "stand-in"

    def __init__(self, cap: Capacity | None) -> None:
        self.cap = cap

    def wake(self, kind: str = "") -> None:
        pass

    def logs(
        self, kind: str, team: str, name: str, *, replica: int, follow: bool, previous: bool
    ) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def capacity(self) -> Capacity:
        if self.cap is None:
            raise ConnectionError("the runtime is away")
        return self.cap

    def figures(self) -> ControllerFigures:
        return ControllerFigures()


async def test_capacity_is_what_the_runtime_reports() -> None:
    port: ControllerPort = StandIn(Capacity(cpu_millis=4000, memory_bytes=8 << 30, gpus=1))
    assert await capacity(port) == {"cpu": 4000, "memory": 8 << 30, "gpu": 1}


async def test_capacity_is_unknown_without_a_controller_or_an_answer() -> None:
    assert await capacity(None) is None
    assert await capacity(StandIn(None)) is None
