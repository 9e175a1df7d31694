"""Migrations: an empty database upgrades to the tables the code declares, and back down."""

from __future__ import annotations

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sapwood.server.store import migrate
from sapwood.server.store.engine import sync_url
from sapwood.server.store.tables import Base


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
