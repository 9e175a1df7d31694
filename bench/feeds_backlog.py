"""Feeds backlog on SQLite: /figures and the store queue's lease with records waiting,
the records blob before the queue's columns (migration 0009) and after them (0010).

    .venv/bin/python bench/feeds_backlog.py [--batches 1000] [--batch-kb 100] [--repeats 15]

One SQLite store at revision 0009 (``records`` declared before ``ingested_at``, ``acked``
and the lease columns, as 0006 created it) gets ``--batches`` waiting batches of one feed,
each ``--batch-kb`` KB of random bytes (only the layout matters, not the content),
ingested over the last 10 minutes; ``--in-flight`` of the oldest are held by live leases
(workers busy with them). The file is vacuumed and copied; the copy is upgraded to head
(``records`` last) and vacuumed too, so both hold the same rows.

Timed, alternating between the two files, each call in its own session as the server
makes them: ``services.feed_results.figures_for`` (what ``/figures`` computes) and
``StoreQueue.lease(limit=1)`` (what a worker's lease does: it skips the batches in flight
and leases the next). The leased batch is released again, untimed, after every call.

Ends with ``RESULT feeds_backlog: figures_old_ms=... figures_new_ms=... lease_old_ms=...
lease_new_ms=... ratio_figures=... ratio_lease=...`` (medians; ratio = old / new, above 1
means the new layout is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.ingest.store_queue import StoreQueue
from sapwood.server.services.feed_results import figures_for
from sapwood.server.store import migrate
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.server.store.tables import FeedBatchRow

FEED = "00000000-0000-0000-0000-00000000feed"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD_REVISION = "0009"
VISIBILITY = timedelta(minutes=5)


def build(path: Path, *, batches: int, batch_bytes: int, in_flight: int, seed: int) -> None:
    """A store at OLD_REVISION with ``batches`` waiting batches of FEED, then vacuumed."""
    url = f"sqlite:///{path}"
    migrate.upgrade(url, OLD_REVISION)
    rng = random.Random(seed)
    rows = []
    for i in range(batches):
        leased = i < in_flight
        rows.append(
            {
                "feed_uid": FEED,
                "batch_key": f"key-{i}",
                "first_seq": 1000 * i,
                "last_seq": 1000 * i + 999,
                "count": 1000,
                "records": rng.randbytes(batch_bytes),
                "ingested_at": NOW - timedelta(minutes=10) * (batches - i) / batches,
                "acked": False,
                "deliveries": 1 if leased else 0,
                "lease_id": f"worker-{i}" if leased else None,
                "lease_expires_at": NOW + timedelta(hours=1) if leased else None,
            }
        )
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(FeedBatchRow), rows)
    finally:
        engine.dispose()
    vacuum(path)


def vacuum(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()


def columns(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute("PRAGMA table_info(feed_batches)")]
    finally:
        conn.close()


@dataclass
class Layout:
    name: str
    sessions: async_sessionmaker[AsyncSession]
    queue: StoreQueue
    figures_ms: list[float]
    lease_ms: list[float]


async def figures_once(layout: Layout) -> float:
    start = time.perf_counter()
    async with layout.sessions() as session:
        await figures_for(session, FEED, now=NOW)
    return (time.perf_counter() - start) * 1000


async def lease_once(layout: Layout, *, expected_id: int) -> float:
    """One lease, timed; the leased batch is then released (untimed) for the next call."""
    start = time.perf_counter()
    deliveries = await layout.queue.lease(
        FEED, consumer="bench", limit=1, visibility=VISIBILITY, now=NOW
    )
    ms = (time.perf_counter() - start) * 1000
    if [d.batch_id for d in deliveries] != [expected_id]:
        raise RuntimeError(f"{layout.name}: leased {deliveries}, expected batch {expected_id}")
    async with layout.sessions() as session, session.begin():
        await session.execute(
            update(FeedBatchRow)
            .where(FeedBatchRow.id == expected_id)
            .values(lease_id=None, lease_expires_at=None, deliveries=0)
        )
    return ms


async def measure(paths: dict[str, Path], *, repeats: int, in_flight: int) -> list[Layout]:
    layouts = []
    engines = []
    for name, path in paths.items():
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        engines.append(engine)
        sessions = session_factory(engine)
        layouts.append(Layout(name, sessions, StoreQueue(sessions), [], []))
    try:
        for layout in layouts:  # warm-up: connections open, schema read
            await figures_once(layout)
            await lease_once(layout, expected_id=in_flight + 1)
        for i in range(repeats):
            order = layouts if i % 2 == 0 else layouts[::-1]
            for layout in order:
                layout.figures_ms.append(await figures_once(layout))
            for layout in order:
                layout.lease_ms.append(await lease_once(layout, expected_id=in_flight + 1))
    finally:
        for engine in engines:
            await engine.dispose()
    return layouts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--batch-kb", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 0 <= args.in_flight < args.batches:
        parser.error("--in-flight must be at least 0 and below --batches")

    with tempfile.TemporaryDirectory(prefix="sapwood-backlog-") as tmp:
        old, new = Path(tmp) / "old.db", Path(tmp) / "new.db"
        start = time.perf_counter()
        build(
            old,
            batches=args.batches,
            batch_bytes=args.batch_kb * 1000,
            in_flight=args.in_flight,
            seed=args.seed,
        )
        built_s = time.perf_counter() - start
        shutil.copyfile(old, new)
        start = time.perf_counter()
        migrate.upgrade(f"sqlite:///{new}")
        migrated_s = time.perf_counter() - start
        vacuum(new)
        size_mb = old.stat().st_size / 1e6
        print(
            f"{args.batches} waiting batches of {args.batch_kb} KB ({args.in_flight} in "
            f"flight), {size_mb:.0f} MB; built in {built_s:.1f} s, migrated to head in "
            f"{migrated_s:.1f} s"
        )
        for name, path in (("old", old), ("new", new)):
            print(f"  {name}: {', '.join(columns(path))}")
        layouts = asyncio.run(
            measure({"old": old, "new": new}, repeats=args.repeats, in_flight=args.in_flight)
        )

    medians = {}
    for layout in layouts:
        figures_ms = statistics.median(layout.figures_ms)
        lease_ms = statistics.median(layout.lease_ms)
        medians[layout.name] = (figures_ms, lease_ms)
        print(
            f"{layout.name}: figures median {figures_ms:.2f} ms "
            f"(min {min(layout.figures_ms):.2f}, max {max(layout.figures_ms):.2f}); "
            f"lease median {lease_ms:.2f} ms "
            f"(min {min(layout.lease_ms):.2f}, max {max(layout.lease_ms):.2f})"
        )
    (figures_old, lease_old), (figures_new, lease_new) = medians["old"], medians["new"]
    print(
        "RESULT feeds_backlog: "
        f"figures_old_ms={figures_old:.2f} figures_new_ms={figures_new:.2f} "
        f"lease_old_ms={lease_old:.2f} lease_new_ms={lease_new:.2f} "
        f"ratio_figures={figures_old / figures_new:.2f} "
        f"ratio_lease={lease_old / lease_new:.2f}"
    )


if __name__ == "__main__":
    main()
