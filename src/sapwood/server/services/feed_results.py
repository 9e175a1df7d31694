"""Reading a feed's results: pages with filters, CSV or Parquet exports, and figures."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import func, select

from sapwood.schemas.arrow import from_ipc
from sapwood.schemas.feeds import FeedFigures, FeedResult, FeedResultPage
from sapwood.server.ingest.figures import ScoredBatch, figures
from sapwood.server.ingest.results import ResultFilter, finite_only, flat_for_csv, select_rows
from sapwood.server.ingest.series import FeedSeries, Scored, Waiting, buckets
from sapwood.server.ingest.series import feed_series as bucket_series
from sapwood.server.services.access import Caller, readable_teams
from sapwood.server.services.errors import InvalidError
from sapwood.server.services.feeds import find_feed
from sapwood.server.services.paging import decode_continue, encode_continue
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import FeedBatchRow, FeedResultRow, ObjectRow

FIGURES_WINDOW = timedelta(minutes=5)
SERIES_WINDOW = timedelta(hours=1)
SERIES_BUCKET = timedelta(minutes=1)
_SCAN = 64  # result batches read per query round


def check_filter(where: ResultFilter) -> None:
    if where.since and where.until and where.until <= where.since:
        raise InvalidError("until must be after since")
    if where.from_seq is not None and where.to_seq is not None and where.to_seq < where.from_seq:
        raise InvalidError("toSequence must not be below fromSequence")


async def _scan(
    session: AsyncSession, feed_uid: str, where: ResultFilter
) -> AsyncIterator[tuple[FeedResultRow, pa.Table]]:
    """Result batches in sequence order with their rows filtered; empty ones skipped. NaN
    and infinities stored before they were refused read as null (``finite_only``), so a
    page, an export or a prediction filter never meets one."""
    after = where.after_seq
    while True:
        query = (
            select(FeedResultRow)
            .where(FeedResultRow.feed_uid == feed_uid, FeedResultRow.last_seq > after)
            .order_by(FeedResultRow.first_seq)
            .limit(_SCAN)
        )
        if where.to_seq is not None:
            query = query.where(FeedResultRow.first_seq <= where.to_seq)
        if where.from_seq is not None:
            query = query.where(FeedResultRow.last_seq >= where.from_seq)
        if where.since is not None:
            query = query.where(FeedResultRow.scored_at >= where.since)
        if where.until is not None:
            query = query.where(FeedResultRow.scored_at < where.until)
        rows = list(await session.scalars(query))
        for row in rows:
            table = select_rows(finite_only(from_ipc(row.results)), where)
            if table.num_rows:
                yield row, table
        if len(rows) < _SCAN:
            return
        after = rows[-1].last_seq


def _items(row: FeedResultRow, table: pa.Table) -> list[FeedResult]:
    return [
        FeedResult(
            sequence=r["sequence"],
            prediction=r["prediction"],
            score=r["score"],
            probabilities=r["probabilities"],
            label=r["label"],
            model_version=row.model_version,
            ingested_at=row.ingested_at,
            scored_at=row.scored_at,
        )
        for r in table.to_pylist()
    ]


async def list_results(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    where: ResultFilter,
    limit: int,
    continue_: str | None,
) -> FeedResultPage:
    """Results in sequence order; ``continue`` resumes after the last one returned."""
    check_filter(where)
    feed = await find_feed(session, caller, name, team=team, write=False)
    start = ResultFilter(**{**where.__dict__, "after_seq": decode_continue(continue_)})
    items: list[FeedResult] = []
    more = False
    async for row, table in _scan(session, feed.uid, start):
        room = limit + 1 - len(items)
        items += _items(row, table.slice(0, room))
        if len(items) > limit:
            more = True
            items = items[:limit]
            break
    token = encode_continue(items[-1].sequence) if more and items else None
    return FeedResultPage(items=items, continue_=token)


async def newest_results(
    session: AsyncSession, caller: Caller, name: str, *, team: str | None, limit: int
) -> list[FeedResult]:
    """The ``limit`` results scored last, newest first (by ``scored_at``, then sequence).

    Workers ack batches in any order, so the newest results are not the highest
    sequences; nor are they bounded to a window: a quiet feed still shows its last ones.
    Reads at most ``limit`` result batches, through the (feed_uid, scored_at) index.
    """
    feed = await find_feed(session, caller, name, team=team, write=False)
    rows = await session.scalars(
        select(FeedResultRow)
        .where(FeedResultRow.feed_uid == feed.uid)
        .order_by(FeedResultRow.scored_at.desc(), FeedResultRow.first_seq.desc())
        .limit(limit)
    )
    items: list[FeedResult] = []
    for row in rows:
        batch = _items(row, finite_only(from_ipc(row.results)))
        items += sorted(batch, key=lambda r: r.sequence, reverse=True)
        if len(items) >= limit:
            break
    return items[:limit]


async def export_results(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    where: ResultFilter,
    fmt: str,
) -> bytes:
    """Every matching result as one CSV or Parquet file."""
    if fmt not in ("csv", "parquet"):
        raise InvalidError(f"format must be csv, parquet or json, got {fmt!r}")
    check_filter(where)
    feed = await find_feed(session, caller, name, team=team, write=False)
    parts = []
    async for row, table in _scan(session, feed.uid, where):
        rows = table.num_rows
        parts.append(
            table.append_column("model_version", pa.array([row.model_version] * rows))
            .append_column(
                "ingested_at", pa.array([row.ingested_at] * rows, pa.timestamp("us", "UTC"))
            )
            .append_column("scored_at", pa.array([row.scored_at] * rows, pa.timestamp("us", "UTC")))
        )
    table = pa.concat_tables(parts) if parts else _empty()
    sink = io.BytesIO()
    if fmt == "csv":
        pacsv.write_csv(flat_for_csv(table), sink)
    else:
        pq.write_table(table, sink)
    return sink.getvalue()


def _empty() -> pa.Table:
    return pa.table(
        {
            "sequence": pa.array([], pa.int64()),
            "prediction": pa.array([], pa.int64()),
            "score": pa.array([], pa.float64()),
            "probabilities": pa.array([], pa.list_(pa.float32())),
            "label": pa.array([], pa.float64()),
            "model_version": pa.array([], pa.string()),
            "ingested_at": pa.array([], pa.timestamp("us", "UTC")),
            "scored_at": pa.array([], pa.timestamp("us", "UTC")),
        }
    )


async def feed_figures(
    session: AsyncSession, caller: Caller, name: str, *, team: str | None, now: datetime
) -> FeedFigures:
    feed = await find_feed(session, caller, name, team=team, write=False)
    return await figures_for(session, feed.uid, now=now)


async def figures_for(session: AsyncSession, feed_uid: str, *, now: datetime) -> FeedFigures:
    """The figures of one feed over the last FIGURES_WINDOW."""
    since = now - FIGURES_WINDOW
    # Only the rows still waiting (found through the (feed_uid, acked) index) are read
    # here; records already scored are counted from their results, which carry
    # ingested_at too. (feed_batches keeps the records blob last, migration 0010, so
    # reading ingested_at does not walk the blob's overflow pages on SQLite.)
    total = await session.scalar(
        select(func.coalesce(func.sum(FeedBatchRow.count), 0)).where(
            FeedBatchRow.feed_uid == feed_uid
        )
    )
    backlog, waiting_recent = (
        await session.execute(
            select(
                func.coalesce(func.sum(FeedBatchRow.count), 0),
                func.coalesce(
                    func.sum(FeedBatchRow.count).filter(FeedBatchRow.ingested_at >= since), 0
                ),
            ).where(FeedBatchRow.feed_uid == feed_uid, FeedBatchRow.acked.is_(False))
        )
    ).one()
    total_scored = await session.scalar(
        select(func.coalesce(func.sum(FeedResultRow.count), 0)).where(
            FeedResultRow.feed_uid == feed_uid
        )
    )
    recent = (
        await session.execute(
            select(
                FeedResultRow.count,
                FeedResultRow.ingested_at,
                FeedResultRow.scored_at,
                FeedResultRow.flagged,
                FeedResultRow.labelled,
                FeedResultRow.true_pos,
                FeedResultRow.false_pos,
                FeedResultRow.true_neg,
                FeedResultRow.false_neg,
            ).where(FeedResultRow.feed_uid == feed_uid, FeedResultRow.scored_at >= since)
        )
    ).all()
    # A batch ingested in the window was scored in it too (scored_at >= ingested_at).
    scored = [ScoredBatch(*r) for r in recent]
    ingested = int(waiting_recent) + sum(b.count for b in scored if b.ingested_at >= since)
    return figures(
        ingested=int(ingested),
        scored=scored,
        backlog=int(backlog),
        window_s=FIGURES_WINDOW.total_seconds(),
        total_records=int(total or 0),
        total_scored=int(total_scored or 0),
    )


async def figures_by_feed(
    session: AsyncSession, caller: Caller, *, now: datetime
) -> dict[tuple[str, str], FeedFigures]:
    """Figures of every feed the caller reads, by (team, name)."""
    query = select(ObjectRow.team, ObjectRow.name, ObjectRow.uid).where(ObjectRow.kind == "Feed")
    teams = readable_teams(caller)
    if teams is not None:
        query = query.where(ObjectRow.team.in_(teams))
    rows = (await session.execute(query)).all()
    return {(team, name): await figures_for(session, uid, now=now) for team, name, uid in rows}


async def feed_series(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    now: datetime,
    window: timedelta = SERIES_WINDOW,
    bucket: timedelta = SERIES_BUCKET,
) -> FeedSeries:
    """Records ingested and scored per bucket, and the backlog at each bucket's end."""
    try:
        since, _ = buckets(now, window, bucket)
    except ValueError as exc:
        raise InvalidError(str(exc)) from exc
    feed = await find_feed(session, caller, name, team=team, write=False)
    # Small columns only. Waiting batches come through the (feed_uid, acked) index, as in
    # figures_for; scored ones from their results, which carry ingested_at too.
    waiting = (
        await session.execute(
            select(FeedBatchRow.ingested_at, FeedBatchRow.count).where(
                FeedBatchRow.feed_uid == feed.uid, FeedBatchRow.acked.is_(False)
            )
        )
    ).all()
    scored = (
        await session.execute(
            select(FeedResultRow.ingested_at, FeedResultRow.scored_at, FeedResultRow.count).where(
                FeedResultRow.feed_uid == feed.uid, FeedResultRow.scored_at >= since
            )
        )
    ).all()
    return bucket_series(
        waiting=[Waiting(*r) for r in waiting],
        scored=[Scored(*r) for r in scored],
        now=now,
        window=window,
        bucket=bucket,
    )
