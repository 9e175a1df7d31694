"""The replicas table on the (fake) clock: a beating replica is live to the leader, a silent
one is left out after three beats and deleted after ten minutes, judged on the leader's
own clock however the replicas' wall clocks disagree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.replicas import (
    HEARTBEAT_S,
    PRUNE_AFTER_S,
    STALE_AFTER_S,
    ReplicaDirectory,
    ReplicaHeartbeat,
    beat,
    list_replicas,
)
from sapwood.server.store import migrate
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.testing.clock import FakeClock

pytestmark = pytest.mark.anyio

LEADER = "http://10.0.0.1:8421"
PEER = "http://10.0.0.2:8421"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def reading_each_call(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> ReplicaDirectory:
    """The leader's directory, reading the table on every call (no refresh interval)."""
    return ReplicaDirectory(sessions, clock, own_id="leader", own_url=LEADER, refresh_s=0)


async def test_the_table_is_read_once_per_beat_however_often_the_leader_asks(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    directory = ReplicaDirectory(sessions, clock, own_id="leader", own_url=LEADER)
    assert await directory() == []
    await beat(sessions, "peer", PEER, now=clock.now())
    assert await directory() == []  # known from this beat's read: not read again yet
    clock.advance(HEARTBEAT_S)
    assert await directory() == [PEER]


async def test_a_beating_peer_stays_live_and_is_gone_once_it_stops(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    directory = reading_each_call(sessions, clock)
    await beat(sessions, "leader", LEADER, now=clock.now())
    peer = ReplicaHeartbeat(sessions, clock, replica_id="peer", gateway_url=PEER)
    await peer.start()
    assert await directory() == [PEER]
    for _ in range(8):  # two minutes of beats, a beat at a time: never left out
        done = peer.ticks
        clock.advance(await clock.sleeping())
        await peer.wait_ticks(done + 1)
        assert await directory() == [PEER]
    await peer.stop()
    assert await directory() == []
    assert [r.id for r in await list_replicas(sessions)] == ["leader"]


async def test_a_silent_peer_is_left_out_after_three_beats_whatever_its_wall_clock(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    directory = reading_each_call(sessions, clock)
    # Its wall clock is a day ahead: that changes nothing, only its beats count.
    await beat(sessions, "peer", PEER, now=datetime.now(UTC) + timedelta(days=1))
    assert await directory() == [PEER]
    clock.advance(STALE_AFTER_S - HEARTBEAT_S)
    assert await directory() == [PEER]
    clock.advance(HEARTBEAT_S)
    assert await directory() == []
    await beat(sessions, "peer", PEER, now=clock.now())  # it came back
    assert await directory() == [PEER]


async def test_a_peer_silent_for_ten_minutes_is_deleted_and_comes_back_on_its_next_beat(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    directory = reading_each_call(sessions, clock)
    await beat(sessions, "peer", PEER, now=clock.now())
    await directory()
    clock.advance(PRUNE_AFTER_S)
    assert await directory() == []
    assert await list_replicas(sessions) == []
    await beat(sessions, "peer", PEER, now=clock.now())
    assert await directory() == [PEER]
