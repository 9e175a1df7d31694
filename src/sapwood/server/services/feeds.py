"""Feed use cases: find a feed, lease a batch to a worker, store its results (the ack).

Ingest (records in) is ``feed_ingest.py``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from sapwood.schemas.arrow import from_ipc, ipc_column, to_ipc
from sapwood.schemas.base import MAX_BIGINT
from sapwood.schemas.feeds import MODEL_VERSION_HEADER
from sapwood.server.clock import Clock
from sapwood.server.ingest import records as rec
from sapwood.server.ingest.broker import Broker, BrokerUnavailableError, Delivery
from sapwood.server.ingest.results import check_answers, result_table, tally
from sapwood.server.ingest.retention import prune
from sapwood.server.ingest.signals import FeedSignals
from sapwood.server.services.access import Caller, require_write
from sapwood.server.services.errors import (
    Detail,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from sapwood.server.services.objects import find_object
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import FeedBatchRow, FeedResultRow, ObjectRow
from sapwood.specs.feeds import FeedSpec

KIND = "Feed"
PRUNE_EVERY = 64  # batches between retention sweeps of a feed
STORE_CODEC = "lz4"  # stored records and results: written once, read on every lease and ack
log = logging.getLogger("sapwood.feeds")
_COMMIT_WAITS = 10
_ORPHAN_ATTEMPTS = 3  # deliveries of a batch id without records before it is dropped


@dataclass(frozen=True)
class Feed:
    row: ObjectRow
    spec: FeedSpec

    @property
    def uid(self) -> str:
        return self.row.uid


def feed_spec(row: ObjectRow) -> FeedSpec:
    return FeedSpec.model_validate(row.spec)


async def find_feed(
    session: AsyncSession, caller: Caller, name: str, *, team: str | None, write: bool
) -> Feed:
    """The feed the caller means; with ``write``, its records are the caller's to change:
    a member's, an admin's, or the feed's own workload token."""
    row = await find_object(session, caller, KIND, name, team=team)
    if write:
        if caller.scope is not None:
            if not caller.scope.owns(KIND, row.team, row.name):
                raise ForbiddenError(
                    f"this token belongs to the workload {caller.scope}, not to feed/{row.name}"
                )
        else:
            require_write(caller, row.team, f"feed/{row.name}")
    return Feed(row, feed_spec(row))


# lease and ack


@dataclass(frozen=True)
class Leased:
    lease_id: str
    first_seq: int
    count: int
    attempt: int
    records: bytes
    model: str
    features: tuple[str, ...]


def lease_token(delivery: Delivery) -> str:
    return f"{delivery.batch_id}.{delivery.lease_id}"


def parse_lease(token: str) -> Delivery:
    batch, _, lease = token.partition(".")
    if not (batch.isascii() and batch.isdigit()) or int(batch) > MAX_BIGINT or not lease:
        raise InvalidError(f"lease id {token[:40]!r} is not one this server gave out")
    return Delivery(int(batch), lease, 0)


async def lease_batch(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    consumer: str,
    visibility: timedelta,
    wait_s: float,
    clock: Clock,
    broker: Broker,
    signals: FeedSignals | None,
) -> Leased | None:
    """One batch for a worker, or None when none arrived within ``wait_s`` seconds."""
    feed = await find_feed(session, caller, name, team=team, write=True)
    uid = feed.uid
    await session.commit()  # no transaction held open while waiting
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, wait_s)
    while True:
        arrivals = signals.mark(uid) if signals is not None else None
        try:
            deliveries = await broker.lease(
                uid, consumer=consumer, limit=1, visibility=visibility, now=clock.now()
            )
        except BrokerUnavailableError as exc:
            raise UnavailableError(f"the feed broker is unavailable: {exc}") from None
        if deliveries:
            delivery = deliveries[0]
            batch = await _committed_batch(session, delivery.batch_id)
            if batch is None or batch.feed_uid != uid:
                # Not committed yet (a post between publish and commit), or gone for good.
                if delivery.attempt >= _ORPHAN_ATTEMPTS:
                    await broker.ack(uid, delivery)
                continue
            return Leased(
                lease_id=lease_token(delivery),
                first_seq=batch.first_seq,
                count=batch.count,
                attempt=delivery.attempt,
                records=batch.records,
                model=feed.spec.model,
                features=feed.spec.feature_columns(),
            )
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        # A skipped delivery above may have left a read open: end it, so no pooled
        # connection is held while this poll sleeps.
        await session.commit()
        if signals is not None:
            await signals.wait(uid, min(remaining, 0.5), since=arrivals)
        else:
            await asyncio.sleep(min(remaining, 0.1))


async def _committed_batch(session: AsyncSession, batch_id: int) -> FeedBatchRow | None:
    """The batch row; a Redis entry can arrive a moment before its post commits, so a
    missing row is looked for again briefly, each time in a fresh transaction."""
    for _ in range(_COMMIT_WAITS):
        batch = await session.get(FeedBatchRow, batch_id)
        if batch is not None:
            return batch
        await session.rollback()
        await asyncio.sleep(0.02)
    return None


@dataclass(frozen=True)
class Acked:
    stored: bool
    first_seq: int
    count: int


async def ack_batch(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    lease_id: str,
    body: bytes,
    model_version: str,
    now: datetime,
    broker: Broker,
) -> Acked:
    """Stores a batch's results once, then acknowledges the batch. A second ack of the same
    batch (a redelivery's) stores nothing and reports ``stored=False``."""
    feed = await find_feed(session, caller, name, team=team, write=True)
    uid = feed.uid  # read before a rollback expires the row
    delivery = parse_lease(lease_id)
    batch = await session.get(FeedBatchRow, delivery.batch_id)
    if batch is None or batch.feed_uid != uid:
        raise NotFoundError(f"batch {delivery.batch_id} of feed/{name} not found")
    if not model_version or len(model_version) > 64:
        raise InvalidError(
            f"say which model version scored the batch in {MODEL_VERSION_HEADER} (1 to 64 "
            "characters)"
        )
    try:
        answers = check_answers(from_ipc(body), batch.count)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidError(f"results are not an Arrow IPC stream: {exc}") from None
    except rec.RecordsError as exc:
        raise InvalidError(exc.message, details=[Detail(exc.path, exc.message)]) from None
    labels = None
    if feed.spec.label_column is not None:
        labels = ipc_column(batch.records, feed.spec.label_column)
    results = result_table(answers, first_seq=batch.first_seq, labels=labels)
    counts = tally(results)
    first_seq, count, ingested_at = batch.first_seq, batch.count, batch.ingested_at
    session.add(
        FeedResultRow(
            feed_uid=uid,
            first_seq=first_seq,
            last_seq=batch.last_seq,
            count=count,
            model_version=model_version,
            ingested_at=ingested_at,
            scored_at=now,
            flagged=counts.flagged,
            labelled=counts.labelled,
            true_pos=counts.true_pos,
            false_pos=counts.false_pos,
            true_neg=counts.true_neg,
            false_neg=counts.false_neg,
            results=to_ipc(results, compress=True, codec=STORE_CODEC),
        )
    )
    stored = True
    try:
        await session.flush()
    except IntegrityError:  # stored by an earlier delivery of this batch
        await session.rollback()
        stored = False
    await _mark_acked(session, delivery.batch_id)
    await session.commit()
    if delivery.batch_id % PRUNE_EVERY == 0:
        await prune(session, uid, before=now - feed.spec.results.retention)
    if broker.in_store:  # _mark_acked was the ack, committed with the results
        return Acked(stored=stored, first_seq=first_seq, count=count)
    try:
        await broker.ack(uid, delivery)
    except BrokerUnavailableError as exc:  # stored: a redelivery will only be acked again
        log.warning("feed %s: ack of batch %s not passed on: %s", name, delivery.batch_id, exc)
    return Acked(stored=stored, first_seq=first_seq, count=count)


async def _mark_acked(session: AsyncSession, batch_id: int) -> None:
    await session.execute(
        update(FeedBatchRow)
        .where(FeedBatchRow.id == batch_id)
        .values(acked=True, lease_id=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
