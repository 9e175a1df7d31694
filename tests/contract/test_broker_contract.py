"""The Broker contract: the store queue (SQLite, PostgreSQL) and Redis Streams pass this.

Redis runs when SAPWOOD_TEST_REDIS_URL is set (and must, under SAPWOOD_TEST_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.ingest.broker import Broker
from sapwood.server.ingest.redis_streams import RedisStreamsBroker
from sapwood.server.ingest.store_queue import StoreQueue
from sapwood.server.store import migrate
from sapwood.server.store.engine import AsyncSession, create_engine, session_factory
from sapwood.server.store.tables import FeedBatchRow
from tests.conftest import _postgres_schema_url
from tests.conftest import redis_url as require_redis

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HOLD = timedelta(seconds=60)
FEED = "feed-contract"


@dataclass
class Queue:
    broker: Broker
    sessions: async_sessionmaker[AsyncSession]
    feed: str

    async def add(self, count: int) -> list[int]:
        """Stores ``count`` one-record batches and publishes them; returns their ids."""
        async with self.sessions() as session:
            last = len(list(await session.scalars(select(FeedBatchRow))))
            rows = [
                FeedBatchRow(
                    feed_uid=self.feed,
                    first_seq=last + i + 1,
                    last_seq=last + i + 1,
                    count=1,
                    records=b"",
                    ingested_at=NOW,
                    acked=False,
                    deliveries=0,
                )
                for i in range(count)
            ]
            session.add_all(rows)
            await session.commit()
            ids = [r.id for r in rows]
        await self.broker.publish(self.feed, ids)
        return ids


@pytest.fixture(
    params=[
        "store-sqlite",
        pytest.param("store-postgres", marks=pytest.mark.postgres),
        "redis",
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(broker kind, database URL)."""
    if request.param == "store-postgres":
        for url in _postgres_schema_url():
            yield "store", url
        return
    database = f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}"
    if request.param == "redis":
        yield "redis", database
        return
    yield "store", database


@pytest.fixture
async def queue(backend: tuple[str, str]) -> AsyncIterator[Queue]:
    kind, url = backend
    redis_url = require_redis() if kind == "redis" else None
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    broker: Broker
    if redis_url is not None:
        broker = RedisStreamsBroker(redis_url, prefix=f"sapwood-test-{uuid.uuid4().hex[:8]}")
    else:
        broker = StoreQueue(sessions)
    try:
        yield Queue(broker, sessions, FEED)
    finally:
        await broker.forget(FEED)
        await broker.close()
        await engine.dispose()


async def _lease(queue: Queue, consumer: str = "a", *, limit: int = 10, hold: timedelta = HOLD):
    return await queue.broker.lease(
        queue.feed, consumer=consumer, limit=limit, visibility=hold, now=NOW
    )


async def test_an_empty_queue_leases_nothing(queue: Queue) -> None:
    assert await _lease(queue) == []
    assert await queue.broker.backlog(queue.feed) == 0


async def test_batches_are_leased_oldest_first_up_to_the_limit(queue: Queue) -> None:
    ids = await queue.add(5)
    first = await _lease(queue, limit=3)
    assert [d.batch_id for d in first] == ids[:3]
    assert all(d.attempt == 1 for d in first)
    second = await _lease(queue, "b", limit=10)
    assert [d.batch_id for d in second] == ids[3:]


async def test_a_leased_batch_is_held_until_its_visibility_timeout(queue: Queue) -> None:
    await queue.add(1)
    assert len(await _lease(queue, "a")) == 1
    assert await _lease(queue, "b") == []
    assert await queue.broker.backlog(queue.feed) == 1


async def test_an_unacknowledged_batch_is_delivered_again(queue: Queue) -> None:
    [batch] = await queue.add(1)
    [first] = await _lease(queue, "a", hold=timedelta(0))
    [again] = await _lease(queue, "b", hold=timedelta(0))
    assert first.batch_id == again.batch_id == batch
    assert again.attempt == 2
    assert again.lease_id != first.lease_id or isinstance(queue.broker, RedisStreamsBroker)


async def test_an_acknowledged_batch_never_comes_back(queue: Queue) -> None:
    await queue.add(2)
    delivered = await _lease(queue, hold=timedelta(0))
    for delivery in delivered:
        await queue.broker.ack(queue.feed, delivery)
        await queue.broker.ack(queue.feed, delivery)  # twice is harmless
    assert await _lease(queue, hold=timedelta(0)) == []
    assert await queue.broker.backlog(queue.feed) == 0


async def test_concurrent_consumers_never_share_a_batch(queue: Queue) -> None:
    ids = await queue.add(20)
    leases = await asyncio.gather(*(_lease(queue, f"c{i}", limit=3) for i in range(8)))
    got = [d.batch_id for lease in leases for d in lease]
    assert len(got) == len(set(got))
    rest = await _lease(queue, "late", limit=100)
    assert sorted(got + [d.batch_id for d in rest]) == ids


async def test_feeds_are_apart(queue: Queue) -> None:
    await queue.add(1)
    other = await queue.broker.lease(
        "another-feed", consumer="a", limit=10, visibility=HOLD, now=NOW
    )
    assert other == []
    await queue.broker.forget("another-feed")
