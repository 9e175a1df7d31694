"""Schema migrations with Alembic, run programmatically (the server upgrades at start).

Every server replica upgrades as it starts, so replicas starting together on an empty
PostgreSQL database would run the same migrations at once, and all but one would fail on
tables another just created. A migration therefore runs under a transaction-scoped
advisory lock (`pg_advisory_xact_lock`): the others wait, then find the database at head
and do nothing. SQLite needs no such lock (one server process owns the file). Within one
process, Alembic keeps its context in module globals, so one migration runs at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy import create_engine as create_sync_engine

from sapwood.server.store.engine import is_sqlite, sync_url

MIGRATIONS = Path(__file__).parent / "migrations"
# The advisory lock's key, shared by every replica of every Sapwood version: the bytes of
# "sapwood:" read as a signed 64-bit integer.
MIGRATION_LOCK = int.from_bytes(b"sapwood:", "big", signed=True)
_IN_PROCESS = threading.Lock()  # Alembic's `context` is a module global


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Brings the database to ``revision``; idempotent. Blocking: call it off the event loop."""
    _run(url, command.upgrade, revision)


def downgrade(url: str, revision: str) -> None:
    _run(url, command.downgrade, revision)


def _run(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    engine = create_sync_engine(sync_url(url))
    try:
        with _IN_PROCESS, engine.begin() as connection:
            if not is_sqlite(url):
                lock_migrations(connection)
            config = alembic_config(url)
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        engine.dispose()


def lock_migrations(connection: Connection) -> None:
    """Waits until no other replica migrates this PostgreSQL database, then holds it
    until the caller's transaction ends (commit or rollback releases it)."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
