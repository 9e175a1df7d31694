"""Feed ingest: a post of records is decoded, validated and stored, all or nothing.

A post is decoded and validated before the first row is written, and all its batches
share one transaction. A batch id (``Idempotency-Key``) names one body: the same body
again answers as the first post did without storing anything, another body under the
same id is refused (422). Records that lack feature columns are refused unless the client
or the feed opts in to the schema's values (``server/ingest/intake.py``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sapwood.schemas.arrow import to_ipc
from sapwood.schemas.feeds import (
    ARROW_STREAM,
    CSV,
    JSON_LINES,
    MAX_BATCH_KEY,
    PARQUET,
    IngestResponse,
)
from sapwood.server.ingest import intake
from sapwood.server.ingest import records as rec
from sapwood.server.ingest.broker import Broker, BrokerUnavailableError
from sapwood.server.ingest.signals import FeedSignals
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import Detail, InvalidError, UnavailableError
from sapwood.server.services.feeds import STORE_CODEC, find_feed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import FeedBatchRow
from sapwood.specs.feeds import Column, FeedSpec

_KEY = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_BATCH_KEY}}}")  # fullmatch: no "\n"
_ALLOCATION_TRIES = 8
# Bodies above this are decoded (and hashed) in a worker thread so the event loop keeps
# serving.
_THREAD_BYTES = 256 * 1024


@dataclass(frozen=True)
class Ingested:
    response: IngestResponse
    replayed: bool
    batch_ids: tuple[int, ...] = ()
    scales: bool = False  # the feed's worker count follows its backlog (min < max)


def decode(
    body: bytes, content_type: str, columns: tuple[Column, ...]
) -> tuple[pa.Table, str | None]:
    """The body's records as a table (not yet conformed) and a batch id found in it."""
    media = content_type.split(";")[0].strip().lower()
    if media in ("", "application/json"):
        parsed = rec.parse_json(body)
        return rec.rows_table(parsed.rows, columns), parsed.batch_id
    if media == JSON_LINES:
        lines = [line for line in body.split(b"\n") if line.strip()]
        parsed = rec.parse_json(b"[" + b",".join(lines) + b"]")
        return rec.rows_table(parsed.rows, columns), None
    if media == CSV:
        return rec.read_csv(body, columns), None
    if media == ARROW_STREAM:
        return rec.read_arrow(body), None
    if media == PARQUET:
        return rec.read_parquet(body), None
    raise InvalidError(
        f"unsupported content type {media!r}",
        hint=f"use application/json, {JSON_LINES}, {CSV}, {ARROW_STREAM} or {PARQUET}",
    )


@dataclass(frozen=True)
class Prepared:
    chunks: list[tuple[int, bytes]]  # (count, Arrow IPC) of at most batch.maxRecords each
    key: str | None  # a batch id found in the body
    filled: list[str]  # absent columns that took the schema's value


def prepare(body: bytes, content_type: str, spec: FeedSpec, *, fill_missing: bool) -> Prepared:
    """Validated chunks of the records; a post lacking feature columns is refused unless
    ``fill_missing`` (the client's or the feed's opt-in)."""
    columns = spec.schema_columns()
    try:
        table, key = decode(body, content_type, columns)
        names = set(table.column_names)
        table = rec.conform(table, columns)  # bad values first: they name their row
    except rec.RecordsError as exc:
        where = f" (row {exc.row}, column {exc.column})" if exc.row is not None else ""
        raise InvalidError(
            f"records rejected{where}: {exc.message}; nothing was stored",
            details=[Detail(exc.path, exc.message)],
        ) from None
    if table.num_rows == 0:
        raise InvalidError("no records in the request")
    features = spec.feature_columns()
    missing = intake.missing_features(names, columns, features)
    if missing and not fill_missing:
        raise InvalidError(
            intake.missing_message(missing, total=len(features)),
            details=[Detail(f"columns.{name}", "missing") for name in missing[:100]],
            hint=intake.MISSING_HINT,
        )
    size = spec.batch.max_records
    chunks = [
        (
            min(size, table.num_rows - start),
            to_ipc(table.slice(start, size), compress=True, codec=STORE_CODEC),
        )
        for start in range(0, table.num_rows, size)
    ]
    return Prepared(chunks, key, intake.filled_columns(names, columns, features))


def check_batch_key(key: str | None) -> str | None:
    if key is not None and not _KEY.fullmatch(key):
        raise InvalidError(
            f"batch id {key[:40]!r} is invalid: up to {MAX_BATCH_KEY} letters, digits, "
            "'_', '.' or '-'"
        )
    return key


def _key_range(key: str) -> tuple[str, str]:
    # Chunk i of a post is stored as "KEY:i"; ':' sorts just below ';' and keys have neither.
    return f"{key}:", f"{key};"


async def _replay(
    session: AsyncSession, feed_uid: str, key: str, digest: str
) -> IngestResponse | None:
    """The first post's answer when ``key`` was pushed with this body; None when it was
    not pushed; InvalidError when it was pushed with another body."""
    low, high = _key_range(key)
    first, last, count, stored = (
        await session.execute(
            select(
                func.min(FeedBatchRow.first_seq),
                func.max(FeedBatchRow.last_seq),
                func.sum(FeedBatchRow.count),
                func.max(FeedBatchRow.body_sha256),
            ).where(
                FeedBatchRow.feed_uid == feed_uid,
                FeedBatchRow.batch_key >= low,
                FeedBatchRow.batch_key < high,
            )
        )
    ).one()
    if first is None:
        return None
    if stored is not None and stored != digest:  # None: stored before fingerprints were kept
        raise InvalidError(intake.conflict_message(key), hint=intake.CONFLICT_HINT)
    return IngestResponse(
        accepted=int(count),
        first_sequence=int(first),
        last_sequence=int(last),
        batch_id=key,
        replayed=True,
        message=intake.replayed_message(key),
    )


async def _digest(body: bytes, content_type: str) -> str:
    if len(body) > _THREAD_BYTES:
        return await asyncio.to_thread(intake.fingerprint, body, content_type)
    return intake.fingerprint(body, content_type)


async def ingest(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    body: bytes,
    content_type: str,
    batch_key: str | None,
    now: datetime,
    broker: Broker,
    signals: FeedSignals | None = None,
    fill_missing: bool = False,
) -> Ingested:
    """Stores every record of the post, or none. A batch id pushed before with the same
    body stores nothing and answers as the first post did; with another body, 422.
    ``fill_missing`` (or the feed's ``ingest.fillMissing``) lets absent feature columns
    take the schema's values; otherwise a post lacking any is refused (422)."""
    feed = await find_feed(session, caller, name, team=team, write=True)
    uid = feed.uid
    key = check_batch_key(batch_key)
    digest = await _digest(body, content_type) if key is not None else None
    if key is not None and digest is not None:
        replayed = await _replay(session, uid, key, digest)
        if replayed is not None:
            return Ingested(replayed, replayed=True)
    fill = fill_missing or feed.spec.ingest.fill_missing
    if len(body) > _THREAD_BYTES:
        prepared = await asyncio.to_thread(
            prepare, body, content_type, feed.spec, fill_missing=fill
        )
    else:
        prepared = prepare(body, content_type, feed.spec, fill_missing=fill)
    chunks = prepared.chunks
    if key is None and prepared.key is not None:
        key = check_batch_key(prepared.key)
        digest = await _digest(body, content_type)
        replayed = await _replay(session, uid, key, digest) if key is not None else None
        if replayed is not None:
            return Ingested(replayed, replayed=True)
    total = sum(count for count, _ in chunks)
    for _ in range(_ALLOCATION_TRIES):
        # The newest batch through the (feed_uid, first_seq) index, not a scan of them all.
        last = await session.scalar(
            select(FeedBatchRow.last_seq)
            .where(FeedBatchRow.feed_uid == uid)
            .order_by(FeedBatchRow.first_seq.desc())
            .limit(1)
        )
        first = int(last or 0) + 1
        rows, seq = [], first
        for index, (count, blob) in enumerate(chunks):
            rows.append(
                FeedBatchRow(
                    feed_uid=uid,
                    batch_key=f"{key}:{index}" if key is not None else None,
                    body_sha256=digest if key is not None else None,
                    first_seq=seq,
                    last_seq=seq + count - 1,
                    count=count,
                    records=blob,
                    ingested_at=now,
                    acked=False,
                    deliveries=0,
                )
            )
            seq += count
        session.add_all(rows)
        try:
            await session.flush()
        except IntegrityError:
            # Another post took these sequence numbers, or this batch id, first.
            await session.rollback()
            if key is not None and digest is not None:
                replayed = await _replay(session, uid, key, digest)
                if replayed is not None:
                    return Ingested(replayed, replayed=True)
            continue
        ids = tuple(r.id for r in rows)
        # Queued before the commit: a crash in between leaves a queue entry without records
        # (dropped when leased), never stored records that no worker will see.
        try:
            await broker.publish(uid, ids)
        except BrokerUnavailableError as exc:
            await session.rollback()
            raise UnavailableError(
                f"the feed broker is unavailable, so nothing was stored: {exc}",
                hint="retry the post with the same batch id",
            ) from None
        await session.commit()
        if signals is not None:
            signals.notify(uid)
        response = IngestResponse(
            accepted=total,
            first_sequence=first,
            last_sequence=first + total - 1,
            batch_id=key,
            filled=prepared.filled,
            message=intake.filled_message(prepared.filled) if prepared.filled else None,
        )
        workers = feed.spec.workers
        return Ingested(response, replayed=False, batch_ids=ids, scales=workers.max > workers.min)
    raise InvalidError("the feed is too busy to number these records", hint="retry the post")
