"""Retention: utilisation samples (when to sweep, which rows go, the batched delete) and,
on the same sweep, feeds' results past their ``results.retention``.

Utilisation samples share the ``metrics`` table with the training metrics workloads
report; a sweep deletes only rows of the series it is given (the monitor's ``sapwood.*``
names), older than the cutoff, so training metrics of any age stay. It deletes in batches
of ids, each in its own short transaction, so that no sweep holds SQLite's write lock for
long.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.ingest.retention import prune
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MetricRow
from sapwood.specs.objects import Feed

SWEEP_EVERY = timedelta(minutes=10)
SWEEP_BATCH = 1000


def sweep_due(last_sweep: datetime | None, now: datetime, *, every: timedelta) -> bool:
    """True when no sweep has run yet, ``every`` has passed since the last one, or the
    clock went back (a sweep is cheap; waiting for the clock to catch up is not)."""
    return last_sweep is None or now - last_sweep >= every or now < last_sweep


def retention_cutoff(now: datetime, retention: timedelta) -> datetime:
    """Samples taken before this moment are past their retention."""
    return now - retention


def expired_ids(metrics: Collection[str], cutoff: datetime, *, batch: int) -> Select[int]:
    """At most ``batch`` ids of rows of ``metrics`` taken before ``cutoff`` (the
    ``ix_metrics_metric_time`` index answers it)."""
    return (
        select(MetricRow.id)
        .where(MetricRow.metric.in_(sorted(metrics)), MetricRow.time < cutoff)
        .limit(batch)
    )


async def delete_expired(
    sessions: async_sessionmaker[AsyncSession],
    metrics: Collection[str],
    cutoff: datetime,
    *,
    batch: int = SWEEP_BATCH,
) -> int:
    """Deletes every row of ``metrics`` taken before ``cutoff``, ``batch`` rows per
    transaction; returns how many went. Other series are never touched."""
    total = 0
    while True:
        ids = expired_ids(metrics, cutoff, batch=batch).scalar_subquery()
        async with sessions() as session:
            result = await session.execute(
                delete(MetricRow)
                .where(MetricRow.id.in_(ids))
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        deleted = int(result.rowcount)  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch:
            return total


def feed_cutoffs(views: list[ObjectView], now: datetime) -> dict[str, datetime]:
    """By feed uid, the moment before which a live feed keeps no results."""
    return {
        v.uid: now - v.obj.spec.results.retention
        for v in views
        if isinstance(v.obj, Feed) and v.deletion_timestamp is None
    }


async def prune_feeds(
    sessions: async_sessionmaker[AsyncSession], cutoffs: dict[str, datetime]
) -> None:
    """Each feed's expired results and finished batches, one short transaction a feed."""
    for uid, before in cutoffs.items():
        async with sessions() as session:
            await prune(session, uid, before=before)
