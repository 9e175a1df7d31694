"""A server whose controller runs on a FakeRuntime and a FakeClock.

The controller's real loop runs; its waits are on the fake clock, so between steps it runs
only when a change wakes it or the test advances time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from sapwood.client import AsyncClient
from sapwood.schemas import Event, Object, Phase
from sapwood.server.app import create_app
from sapwood.server.controller.manager import ControllerManager
from sapwood.server.runtimes.base import UnitKey
from sapwood.server.settings import (
    ControllerSettings,
    GatewaySettings,
    NotificationSettings,
    Settings,
    StoreSettings,
)
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from tests.support import Api

TEAM = "default"


class Harness:
    """The app with its lifespan running; ``step()`` runs one controller round."""

    def __init__(self, api: Api, manager: ControllerManager, fake: FakeRuntime, clock: FakeClock):
        self.api = api
        self.sdk: AsyncClient = api.admin
        self.manager = manager
        self.fake = fake
        self.clock = clock

    async def apply(self, *documents: dict[str, Any]) -> None:
        await self.sdk.apply(documents)

    async def step(self, passes: int = 1) -> None:
        """Runs rounds, letting background stops finish after each."""
        for _ in range(passes):
            target = self.manager.begun + 1  # a round that starts after this wake
            self.manager.wake()
            await self.manager.wait_ticks(target)
            for _ in range(5):
                await asyncio.sleep(0)

    async def until(self, done: Callable[[], Awaitable[bool]], *, passes: int = 5) -> None:
        """Runs passes until ``done()`` holds; fails after ``passes`` passes."""
        for _ in range(passes):
            if await done():
                return
            await self.step()
        assert await done(), f"not reached within {passes} passes"

    async def until_phase(self, kind: str, name: str, phase: str, *, passes: int = 5) -> None:
        async def reached() -> bool:
            return await self.phase(kind, name) == phase

        await self.until(reached, passes=passes)

    async def get(self, kind: str, name: str) -> Object:
        return await self.sdk.get(kind, name)

    async def phase(self, kind: str, name: str) -> Phase | None:
        return (await self.get(kind, name)).phase

    async def events(self, kind: str, name: str) -> list[Event]:
        return await self.sdk.events(kind, name)

    async def reasons(self, kind: str, name: str) -> list[str]:
        return [e.reason for e in await self.events(kind, name)]

    async def exists(self, kind: str, name: str) -> bool:
        return any(o.metadata.name == name for o in await self.sdk.list(kind))


def key(kind: str, name: str, replica: int = 0) -> UnitKey:
    return UnitKey(kind, TEAM, name, replica)


@pytest.fixture
def fake(clock: FakeClock) -> FakeRuntime:
    return FakeRuntime(clock=clock.now)


@pytest.fixture
def make_server(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> Callable[[FakeRuntime], Any]:
    """Opens a server (same home and database each time) on the given runtime."""
    admin: list[str] = []
    settings = Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(enabled=True),
        # No gateway runs here: never talk to whatever listens on its default port.
        gateway=GatewaySettings(enabled=False),
        # Test webhook receivers listen on loopback.
        notifications=NotificationSettings(webhook_allow=("127.0.0.1/32",)),
    )

    @asynccontextmanager
    async def server(runtime: FakeRuntime) -> AsyncIterator[Harness]:
        app = create_app(settings, clock=clock, runtime=runtime, on_bootstrap=admin.append)
        async with app.router.lifespan_context(app):
            api = Api(app, admin[0])
            try:
                yield Harness(api, app.state.sapwood.controller, runtime, clock)
            finally:
                await api.admin.aclose()

    return server


@pytest.fixture
async def sw(
    make_server: Callable[[FakeRuntime], Any], fake: FakeRuntime
) -> AsyncIterator[Harness]:
    async with make_server(fake) as harness:
        yield harness
