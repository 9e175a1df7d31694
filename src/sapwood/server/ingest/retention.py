"""A feed's results past its ``results.retention``, and the finished batches behind them.

Pruned by the ingest path every few dozen batches (services/feeds.py) and by the
controller's housekeeping sweep every ten minutes (observe/utilisation.py), so a feed
that stops receiving records still loses what it no longer keeps.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import FeedBatchRow, FeedResultRow


async def prune(session: AsyncSession, feed_uid: str, *, before: datetime) -> None:
    """Drops results scored, and finished batches ingested, before ``before``; commits.

    Batches still waiting or leased stay whatever their age: their records are not scored.
    """
    await session.execute(
        delete(FeedResultRow).where(
            FeedResultRow.feed_uid == feed_uid, FeedResultRow.scored_at < before
        )
    )
    # Candidates through the ingested_at index, not a scan of the feed's batches.
    old = select(FeedBatchRow.id).where(FeedBatchRow.ingested_at < before)
    await session.execute(
        delete(FeedBatchRow).where(
            FeedBatchRow.id.in_(old),
            FeedBatchRow.feed_uid == feed_uid,
            FeedBatchRow.acked.is_(True),
        )
    )
    await session.commit()
