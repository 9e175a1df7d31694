"""The broker: which feed batches wait, who holds which, and when a batch is done.

Records themselves always live in the store (``feed_batches``); a broker moves batch ids.
Two implementations share this protocol and one contract suite: ``StoreQueue`` (the rows
are the queue; PostgreSQL leases with ``FOR UPDATE SKIP LOCKED``) and ``RedisStreamsBroker``
(a stream per feed, one consumer group, ``XAUTOCLAIM`` for redelivery).

The contract: a leased batch is invisible to other consumers until ``visibility`` passes,
then it is delivered again; ``ack`` is called only after the batch's results are stored,
and removes it for good; acking twice, or after the lease expired, is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """One batch handed to one consumer; ``lease_id`` is what acks it."""

    batch_id: int
    lease_id: str
    attempt: int


class BrokerUnavailableError(RuntimeError):
    """The broker cannot be reached; the caller may retry later."""


class Broker(Protocol):
    name: str
    in_store: bool
    """True when the queue is the ``feed_batches`` rows themselves: marking a batch acked
    in the transaction that stores its results is then its ack, and ``ack`` need not be
    called after it."""

    async def publish(self, feed_uid: str, batch_ids: Sequence[int]) -> None:
        """Makes committed batches deliverable. Idempotent for the store queue."""
        ...

    async def lease(
        self,
        feed_uid: str,
        *,
        consumer: str,
        limit: int,
        visibility: timedelta,
        now: datetime,
    ) -> list[Delivery]:
        """Up to ``limit`` batches, oldest first: expired leases, then new ones. Returns at
        once, empty when nothing waits."""
        ...

    async def ack(self, feed_uid: str, delivery: Delivery) -> None:
        """The batch is done (its results are stored); idempotent."""
        ...

    async def backlog(self, feed_uid: str) -> int:
        """How many batches are not acknowledged yet (waiting or leased)."""
        ...

    async def forget(self, feed_uid: str) -> None:
        """Drops everything about a deleted feed."""
        ...

    async def close(self) -> None: ...
