"""The broker on the store: ``feed_batches`` rows are the queue.

A lease is a conditional UPDATE (only rows still unleased or with an expired lease), so
two consumers never hold one batch; on PostgreSQL the candidate rows are picked with
``FOR UPDATE SKIP LOCKED`` so consumers do not queue behind each other's locks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.ingest.broker import Delivery
from sapwood.server.store.tables import FeedBatchRow


class StoreQueue:
    name = "store"
    in_store = True

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def publish(self, feed_uid: str, batch_ids: Sequence[int]) -> None:
        return None  # a committed row is already in the queue

    async def lease(
        self,
        feed_uid: str,
        *,
        consumer: str,
        limit: int,
        visibility: timedelta,
        now: datetime,
    ) -> list[Delivery]:
        free = or_(FeedBatchRow.lease_expires_at.is_(None), FeedBatchRow.lease_expires_at <= now)
        out: list[Delivery] = []
        async with self._sessions() as session, session.begin():
            candidates = (
                await session.execute(
                    select(FeedBatchRow.id, FeedBatchRow.deliveries)
                    .where(FeedBatchRow.feed_uid == feed_uid, FeedBatchRow.acked.is_(False), free)
                    .order_by(FeedBatchRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for batch_id, deliveries in candidates:
                lease_id = uuid.uuid4().hex
                result = await session.execute(
                    update(FeedBatchRow)
                    .where(FeedBatchRow.id == batch_id, FeedBatchRow.acked.is_(False), free)
                    .values(
                        lease_id=lease_id,
                        lease_expires_at=now + visibility,
                        deliveries=FeedBatchRow.deliveries + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    out.append(Delivery(batch_id, lease_id, deliveries + 1))
        return out

    async def ack(self, feed_uid: str, delivery: Delivery) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(FeedBatchRow)
                .where(FeedBatchRow.id == delivery.batch_id, FeedBatchRow.feed_uid == feed_uid)
                .values(acked=True, lease_id=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    async def backlog(self, feed_uid: str) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(FeedBatchRow)
                .where(FeedBatchRow.feed_uid == feed_uid, FeedBatchRow.acked.is_(False))
            )
        return int(count or 0)

    async def forget(self, feed_uid: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(FeedBatchRow).where(FeedBatchRow.feed_uid == feed_uid))

    async def close(self) -> None:
        return None
