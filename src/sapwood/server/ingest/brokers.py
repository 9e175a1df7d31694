"""Which broker a server uses: Redis Streams when configured, the store otherwise."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.ingest.broker import Broker
from sapwood.server.ingest.redis_streams import RedisStreamsBroker
from sapwood.server.ingest.store_queue import StoreQueue


def open_broker(redis_url: str | None, sessions: async_sessionmaker[AsyncSession]) -> Broker:
    if redis_url:
        return RedisStreamsBroker(redis_url)
    return StoreQueue(sessions)
