"""Telling a database outage from a bug, and saying so once per outage, not per request.

While the database is unreachable every request fails the same way; a traceback each
time would bury the log. The API answers those requests 503 with ``Retry-After`` and
logs one line when the outage starts and one when a connection succeeds again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

RETRY_AFTER_S = 5
"""What a 503 for an unreachable database tells clients to wait (the Retry-After header)."""

STORE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)
"""What SQLAlchemy raises when it cannot reach the database or get a connection in time.

OperationalError also covers a few errors that are not outages (SQLite's "database is
locked" after its busy timeout); a 503 with Retry-After is the right answer to those too.
"""


def outage_reason(exc: BaseException) -> str:
    """The driver's own words, first line only (SQLAlchemy appends the SQL and a link)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


@dataclass
class OutageTracker:
    """Whether the database is down, and the line to log when that changes.

    Pure: each method returns the line to log, or None when nothing changed.
    """

    down: bool = False

    def failed(self, reason: str) -> str | None:
        """A request found the database unreachable; a line only for the first one."""
        if self.down:
            return None
        self.down = True
        return f"database unreachable: {reason}"

    def succeeded(self) -> str | None:
        """A connection to the database worked; a line only when that ends an outage."""
        if not self.down:
            return None
        self.down = False
        return "database reachable again"


def watch_connections(engine: AsyncEngine, tracker: OutageTracker, logger: logging.Logger) -> None:
    """Marks the database reachable on every connection the pool hands out, so the end of
    an outage is logged by the first request that gets through."""

    def checked_out(*_: Any) -> None:
        line = tracker.succeeded()
        if line is not None:
            logger.warning(line)

    event.listen(engine.sync_engine, "checkout", checked_out)
