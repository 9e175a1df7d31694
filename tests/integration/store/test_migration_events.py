"""Migration 0012: events written before it read as having happened once, when written."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy

from sapwood.server.store import migrate
from sapwood.server.store.engine import sync_url
from sapwood.server.store.tables import UTCDateTime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_EVENTS = sqlalchemy.table(
    "events",
    sqlalchemy.column("id", sqlalchemy.Integer),
    sqlalchemy.column("uid", sqlalchemy.String),
    sqlalchemy.column("kind", sqlalchemy.String),
    sqlalchemy.column("team", sqlalchemy.String),
    sqlalchemy.column("name", sqlalchemy.String),
    sqlalchemy.column("type", sqlalchemy.String),
    sqlalchemy.column("reason", sqlalchemy.String),
    sqlalchemy.column("message", sqlalchemy.Text),
    sqlalchemy.column("created_at", UTCDateTime()),
)


def test_old_events_get_a_count_of_one_and_their_time_as_last_seen(database_url: str) -> None:
    migrate.upgrade(database_url, "0011")
    engine = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                sqlalchemy.insert(_EVENTS),
                [
                    {
                        "id": 1,
                        "uid": "u1",
                        "kind": "Job",
                        "team": "default",
                        "name": "train",
                        "type": "Normal",
                        "reason": "Created",
                        "message": "job/train created",
                        "created_at": T0,
                    }
                ],
            )
        migrate.upgrade(database_url)
        with engine.connect() as conn:
            row = conn.execute(
                sqlalchemy.text("SELECT count, last_seen_at FROM events WHERE id = 1")
            ).one()
        assert row[0] == 1
        last_seen = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1])
        if last_seen.tzinfo is None:  # SQLite keeps no zone; UTCDateTime wrote UTC
            last_seen = last_seen.replace(tzinfo=UTC)
        assert last_seen == T0
        migrate.downgrade(database_url, "0011")
        with engine.connect() as conn:
            names = [c["name"] for c in sqlalchemy.inspect(conn).get_columns("events")]
        assert "count" not in names
        assert "last_seen_at" not in names
    finally:
        engine.dispose()
