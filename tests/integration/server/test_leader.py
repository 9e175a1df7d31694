"""Leader election through the database: two contenders, one leads, the other takes over,
judged on each contender's own clock: wall clocks that disagree change nothing, and a
leader that cannot renew stops before anyone else may start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.app import create_app
from sapwood.server.leader import (
    LeaderElector,
    LeaseAction,
    current_holder,
    read_lease,
    write_lease,
)
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.server.store import migrate
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.server.store.leases import LeaseFence
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime

pytestmark = pytest.mark.anyio

LEASE_S = 15.0
RENEW_DEADLINE_S = 10.0
HOUR = 3600.0


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


class _Hung:
    """A session that never opens: a database that does not answer."""

    async def __aenter__(self) -> AsyncSession:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def __aexit__(self, *exc: object) -> None:
        return None


class Database:
    """One contender's way to the database, which a test can cut or make hang."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.down = False
        self.hung = False

    def __call__(self) -> Any:
        if self.down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("cut by the test"))
        if self.hung:
            return _Hung()
        return self._sessions()


class Contender:
    """An elector whose callbacks record what a server would start and stop."""

    def __init__(self, sessions: Any, clock: FakeClock, holder: str) -> None:
        self.running = False
        self.fences: list[LeaseFence] = []
        self.elector = LeaderElector(
            sessions,
            clock,
            holder=holder,
            lease_s=LEASE_S,
            renew_deadline_s=RENEW_DEADLINE_S,
            on_elected=self._start,
            on_lost=self._stop,
        )

    async def _start(self, fence: LeaseFence) -> None:
        self.running = True
        self.fences.append(fence)

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


async def test_the_other_takes_over_a_whole_lease_after_it_last_saw_a_renewal(
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
    assert [f.term for f in a.fences + b.fences] == [1, 2]


async def test_a_follower_whose_wall_clock_is_an_hour_ahead_leaves_a_fresh_lease(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The lease's times were written by the leader's wall clock; the follower, an hour
    ahead, does not read them as an hour old: it waits a whole lease of its own clock."""
    a_clock = FakeClock()
    b_clock = FakeClock(a_clock.now() + timedelta(seconds=HOUR))
    a, b = Contender(sessions, a_clock, "a"), Contender(sessions, b_clock, "b")
    assert await a.elector.step() is True
    assert await b.elector.step() is False
    for _ in range(10):  # an hour and more of renewals, every fifth of a lease
        a_clock.advance(LEASE_S / 5)
        b_clock.advance(LEASE_S / 5)
        assert await a.elector.step() is True
        assert await b.elector.step() is False
    assert (a.running, b.running) == (True, False)
    b_clock.advance(LEASE_S)  # a stopped renewing: b takes over on its own clock
    assert await b.elector.step() is True


async def test_a_follower_whose_wall_clock_is_behind_takes_a_lapsed_lease(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a_clock = FakeClock()
    b_clock = FakeClock(a_clock.now() - timedelta(seconds=HOUR))
    a, b = Contender(sessions, a_clock, "a"), Contender(sessions, b_clock, "b")
    await a.elector.step()
    await b.elector.step()
    b_clock.advance(LEASE_S)
    assert await b.elector.step() is True


async def test_a_leader_that_cannot_renew_stops_before_others_may_take_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a_clock, b_clock = FakeClock(), FakeClock()
    database = Database(sessions)
    a, b = Contender(database, a_clock, "a"), Contender(sessions, b_clock, "b")
    assert await a.elector.step() is True
    assert await b.elector.step() is False  # b sees the lease as a renewed it
    database.down = True
    stopped = took = None
    for second in range(1, 2 * int(LEASE_S)):
        a_clock.advance(1)
        b_clock.advance(1)
        if stopped is None and await a.elector.step() is False:
            stopped = second
        if took is None and await b.elector.step() is True:
            took = second
    assert stopped == RENEW_DEADLINE_S
    assert took == LEASE_S
    assert not a.running
    assert b.running


async def test_a_leader_whose_database_hangs_stops_at_its_renew_deadline(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """The elector's own loop, on the clock: a renewal that never answers is abandoned at
    the renew deadline, and the leader stops there."""
    database = Database(sessions)
    a = Contender(database, clock, "a")
    await a.elector.start()
    try:
        assert a.running
        database.hung = True
        waited = 0.0
        with anyio.fail_after(10):
            while a.running:
                step = await clock.sleeping()
                clock.advance(step)
                waited += step
                await anyio.sleep(0.01)
        assert waited <= RENEW_DEADLINE_S
    finally:
        await a.elector.stop()


async def test_stop_releases_the_lease_for_a_successor(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    a, b = Contender(sessions, clock, "a"), Contender(sessions, clock, "b")
    await a.elector.step()
    await a.elector.stop()
    assert not a.running
    assert await current_holder(sessions, "controller") is None
    assert await b.elector.step() is True  # no need to wait for the lease to lapse


async def test_the_loop_renews_the_lease_on_the_clock(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Started, the elector renews every fifth of a lease of the (fake) clock: a contender
    never takes over while it runs, however long that is, and takes over once it stops."""
    a, b = Contender(sessions, clock, "a"), Contender(sessions, clock, "b")
    await a.elector.start()
    assert a.running
    for _ in range(10):  # two whole leases of fake time, a round at a time
        done = a.elector.ticks
        clock.advance(await clock.sleeping())
        await a.elector.wait_ticks(done + 1)
        assert await b.elector.step() is False
    await a.elector.stop()
    assert not a.running
    assert await b.elector.step() is True


async def test_of_contenders_taking_one_lapsed_lease_at_once_one_wins(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Contenders that read the same lease: the version lets only one take it."""
    lease = timedelta(seconds=LEASE_S)
    await write_lease(
        sessions, "x", LeaseAction.CREATE, None, holder="a", now=clock.now(), duration=lease
    )
    seen = await read_lease(sessions, "x")
    results = await asyncio.gather(
        *(
            write_lease(
                sessions, "x", LeaseAction.TAKE, seen, holder=name, now=clock.now(), duration=lease
            )
            for name in ("b", "c", "d")
        )
    )
    (won,) = [r for r in results if r is not None]
    assert won.term == 2
    assert await current_holder(sessions, "x") == won.holder


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
