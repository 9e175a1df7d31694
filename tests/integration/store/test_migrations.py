"""Migrations: an empty database upgrades to the tables the code declares, and back down;
rebuilt tables keep their rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sapwood.server.store import migrate
from sapwood.server.store.engine import is_sqlite, sync_url
from sapwood.server.store.tables import Base, UTCDateTime


def _tables(url: str) -> set[str]:
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        return set(sqlalchemy.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_matches_tables_and_downgrade_removes_them(database_url: str) -> None:
    assert _tables(database_url) == set()
    migrate.upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)
    assert _differences(database_url) == []
    migrate.upgrade(database_url)  # idempotent
    migrate.downgrade(database_url, "base")
    assert _tables(database_url) == set()


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_BATCHES = sqlalchemy.table(
    "feed_batches",
    sqlalchemy.column("id", sqlalchemy.Integer),
    sqlalchemy.column("feed_uid", sqlalchemy.String),
    sqlalchemy.column("batch_key", sqlalchemy.String),
    sqlalchemy.column("first_seq", sqlalchemy.BigInteger),
    sqlalchemy.column("last_seq", sqlalchemy.BigInteger),
    sqlalchemy.column("count", sqlalchemy.Integer),
    sqlalchemy.column("records", sqlalchemy.LargeBinary),
    sqlalchemy.column("ingested_at", UTCDateTime()),
    sqlalchemy.column("acked", sqlalchemy.Boolean),
    sqlalchemy.column("deliveries", sqlalchemy.Integer),
    sqlalchemy.column("lease_id", sqlalchemy.String),
    sqlalchemy.column("lease_expires_at", UTCDateTime()),
)


def _batch(i: int) -> dict[str, object]:
    leased = i % 3 == 1
    return {
        "id": i + 1,
        "feed_uid": "feed-a" if i < 4 else "feed-b",
        "batch_key": f"key-{i}" if i % 2 else None,
        "first_seq": 100 * i,
        "last_seq": 100 * i + 99,
        "count": 100,
        "records": bytes(range(256)) * (40 + i) + bytes([i]),  # past SQLite's overflow size
        "ingested_at": T0 + timedelta(seconds=i),
        "acked": i % 3 == 2,
        "deliveries": i % 4,
        "lease_id": f"lease-{i}" if leased else None,
        "lease_expires_at": T0 + timedelta(minutes=i) if leased else None,
    }


def _insert(url: str, batches: list[dict[str, object]]) -> None:
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.insert(_BATCHES), batches)
    finally:
        engine.dispose()


def _batches(url: str) -> list[dict[str, object]]:
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(_BATCHES).order_by(_BATCHES.c.id)).mappings()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def _columns(url: str) -> list[str]:
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        return [c["name"] for c in sqlalchemy.inspect(engine).get_columns("feed_batches")]
    finally:
        engine.dispose()


def test_feed_batches_keep_their_rows_when_records_move_last(database_url: str) -> None:
    migrate.upgrade(database_url, "0009")
    batches = [_batch(i) for i in range(7)]
    _insert(database_url, batches)
    assert _columns(database_url)[6] == "records"

    migrate.upgrade(database_url)
    assert _batches(database_url) == batches
    if is_sqlite(database_url):  # PostgreSQL keeps the order: its blobs live out of line
        assert _columns(database_url)[-1] == "records"
    assert _differences(database_url) == []
    same_place = {**_batch(7), "feed_uid": "feed-a", "first_seq": 0}  # batch 0's
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        _insert(database_url, [same_place])

    migrate.downgrade(database_url, "0009")
    assert _batches(database_url) == batches
    assert _columns(database_url)[6] == "records"


def test_feed_batches_gain_a_body_fingerprint_before_their_records(database_url: str) -> None:
    migrate.upgrade(database_url, "0010")
    batches = [_batch(i) for i in range(5)]
    _insert(database_url, batches)
    assert "body_sha256" not in _columns(database_url)

    migrate.upgrade(database_url)
    assert _batches(database_url) == batches  # kept; batches pushed before have no fingerprint
    columns = _columns(database_url)
    assert "body_sha256" in columns
    if is_sqlite(database_url):
        assert columns[-2:] == ["body_sha256", "records"]
    assert _differences(database_url) == []

    migrate.downgrade(database_url, "0010")
    assert "body_sha256" not in _columns(database_url)
    assert _batches(database_url) == batches
