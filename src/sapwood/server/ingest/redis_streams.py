"""The broker on Redis Streams: one stream per feed, one consumer group of workers.

``XADD`` publishes a batch id, ``XREADGROUP`` hands new entries out, ``XAUTOCLAIM`` takes
back entries whose consumer has been silent for the visibility timeout, and ``XACK`` plus
``XDEL`` finish an entry, so the stream's length is the backlog. Enabled by
``SAPWOOD_REDIS_URL``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from sapwood.server.ingest.broker import BrokerUnavailableError, Delivery

GROUP = "workers"


class RedisStreamsBroker:
    name = "redis"
    in_store = False

    def __init__(self, url: str, *, prefix: str = "sapwood") -> None:
        self._redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self._prefix = prefix
        self._groups: set[str] = set()

    def _key(self, feed_uid: str) -> str:
        return f"{self._prefix}:feed:{feed_uid}"

    async def _ensure_group(self, key: str) -> None:
        if key in self._groups:
            return
        try:
            await self._redis.xgroup_create(key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(key)

    async def publish(self, feed_uid: str, batch_ids: Sequence[int]) -> None:
        if not batch_ids:
            return
        key = self._key(feed_uid)
        try:
            await self._ensure_group(key)
            async with self._redis.pipeline(transaction=False) as pipe:
                for batch_id in batch_ids:
                    pipe.xadd(key, {"batch": str(batch_id)})
                await pipe.execute()
        except RedisError as exc:
            raise BrokerUnavailableError(f"redis: {exc}") from exc

    async def lease(
        self,
        feed_uid: str,
        *,
        consumer: str,
        limit: int,
        visibility: timedelta,
        now: datetime,
    ) -> list[Delivery]:
        key = self._key(feed_uid)
        idle_ms = max(0, int(visibility.total_seconds() * 1000))
        out: list[Delivery] = []
        try:
            await self._ensure_group(key)
            claimed = await self._redis.xautoclaim(
                key, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=limit
            )
            entries = [e for e in claimed[1] if e and e[1]]
            if entries:
                counts = await self._delivery_counts(key, [e[0] for e in entries])
                out += [_delivery(e, counts.get(_text(e[0]), 2)) for e in entries]
            if len(out) < limit:
                fresh: Any = await self._redis.xreadgroup(
                    GROUP, consumer, {key: ">"}, count=limit - len(out)
                )
                for _, stream_entries in fresh or []:
                    out += [_delivery(e, 1) for e in stream_entries if e[1]]
        except RedisError as exc:
            raise BrokerUnavailableError(f"redis: {exc}") from exc
        return out

    async def _delivery_counts(self, key: str, ids: list[Any]) -> dict[str, int]:
        first, last = _text(ids[0]), _text(ids[-1])
        pending = await self._redis.xpending_range(key, GROUP, min=first, max=last, count=len(ids))
        return {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}

    async def ack(self, feed_uid: str, delivery: Delivery) -> None:
        key = self._key(feed_uid)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(key, GROUP, delivery.lease_id)
                pipe.xdel(key, delivery.lease_id)
                await pipe.execute()
        except RedisError as exc:
            raise BrokerUnavailableError(f"redis: {exc}") from exc

    async def backlog(self, feed_uid: str) -> int:
        try:
            return int(await self._redis.xlen(self._key(feed_uid)))
        except RedisError as exc:
            raise BrokerUnavailableError(f"redis: {exc}") from exc

    async def forget(self, feed_uid: str) -> None:
        key = self._key(feed_uid)
        self._groups.discard(key)
        try:
            await self._redis.delete(key)
        except RedisError as exc:
            raise BrokerUnavailableError(f"redis: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _delivery(entry: Any, attempt: int) -> Delivery:
    entry_id, fields = entry
    batch = fields.get(b"batch", fields.get("batch"))
    return Delivery(int(_text(batch)), _text(entry_id), attempt)
