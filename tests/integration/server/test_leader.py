"""Leader election through the database: two contenders, one leads, the other takes over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.app import create_app
from sapwood.server.leader import LeaderElector, current_holder, try_acquire
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.server.store import migrate
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime

pytestmark = pytest.mark.anyio

LEASE_S = 15.0


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


class Contender:
    """An elector whose callbacks record what a server would start and stop."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, holder: str
    ) -> None:
        self.running = False
        self.elector = LeaderElector(
            sessions,
            clock,
            holder=holder,
            lease_s=LEASE_S,
            on_elected=self._start,
            on_lost=self._stop,
        )

    async def _start(self) -> None:
        self.running = True

    async def _stop(self) -> None:
        self.running = False


async def test_one_of_two_contenders_leads(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    a, b = Contender(sessions, clock, "a"), Contender(sessions, clock, "b")
    assert await a.elector.step() is True
    assert await b.elector.step() is False
    clock.advance(LEASE_S / 3)
    assert await a.elector.step() is True  # renewing
    assert await b.elector.step() is False
    assert (a.running, b.running) == (True, False)
    assert await current_holder(sessions, "controller") == "a"


async def test_the_other_takes_over_after_expiry(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    a, b = Contender(sessions, clock, "a"), Contender(sessions, clock, "b")
    await a.elector.step()
    await b.elector.step()
    clock.advance(LEASE_S - 1)  # a went silent, but its lease still holds
    assert await b.elector.step() is False
    clock.advance(2)
    assert await b.elector.step() is True
    assert b.running
    # a comes back: it sees b's lease and steps down instead of running beside it
    assert await a.elector.step() is False
    assert (a.running, b.running) == (False, True)


async def test_stop_releases_the_lease_for_a_successor(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    a, b = Contender(sessions, clock, "a"), Contender(sessions, clock, "b")
    await a.elector.step()
    await a.elector.stop()
    assert not a.running
    assert await b.elector.step() is True  # no need to wait for the expiry


async def test_the_loop_renews_the_lease_on_the_clock(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Started, the elector renews every third of a lease of the (fake) clock: a contender
    never takes over while it runs, however long that is, and takes over once it stops."""
    a, b = Contender(sessions, clock, "a"), Contender(sessions, clock, "b")
    await a.elector.start()
    assert a.running
    for _ in range(6):  # two whole leases of fake time, a round at a time
        done = a.elector.ticks
        clock.advance(await clock.sleeping())
        await a.elector.wait_ticks(done + 1)
        assert await b.elector.step() is False
    await a.elector.stop()
    assert not a.running
    assert await b.elector.step() is True


async def test_a_stale_write_loses(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Two contenders reading the same expired lease: the version lets only one take it."""
    lease = timedelta(seconds=LEASE_S)
    assert await try_acquire(sessions, "x", holder="a", now=clock.now(), duration=lease)
    clock.advance(LEASE_S + 1)
    results = await asyncio.gather(
        *(
            try_acquire(sessions, "x", holder=name, now=clock.now(), duration=lease)
            for name in ("b", "c", "d")
        )
    )
    assert sum(results) == 1
    assert await current_holder(sessions, "x") in {"b", "c", "d"}


async def test_two_servers_run_one_controller(tmp_path: Path, database_url: str) -> None:
    """Two replicas on one database: one runs the controller; when it stops, the other does."""

    def app(home: str) -> FastAPI:
        settings = Settings(
            home=tmp_path / home,
            store=StoreSettings(database_url=database_url),
            controller=ControllerSettings(leader_election=True, leader_lease_s=0.6),
            gateway=GatewaySettings(enabled=False),
        )
        return create_app(settings, runtime=FakeRuntime())

    first, second = app("one"), app("two")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(first.router.lifespan_context(first))
        async with second.router.lifespan_context(second):
            assert first.state.sapwood.controller is not None
            assert second.state.sapwood.controller is None
            await stack.aclose()  # the leader shuts down and releases its lease
            with anyio.fail_after(10):
                while second.state.sapwood.controller is None:  # noqa: ASYNC110 - polled state
                    await anyio.sleep(0.05)
