"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

if TYPE_CHECKING:
    from sapwood.server.store.changes import ChangeFeed

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def async_url(url: str) -> str:
    """The URL with the async driver Sapwood uses for its backend; ValueError if unsupported."""
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    """The URL with a blocking driver, for migrations."""
    return _with_driver(url, _SYNC_DRIVERS)


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    full = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(full):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(full, **kwargs)
    if is_sqlite(full):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(
    engine: AsyncEngine, changes: ChangeFeed | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; with ``changes``, each commit that changed objects (see
    ``changes.note_changed``) is published there."""
    info = changes.session_info() if changes is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)
