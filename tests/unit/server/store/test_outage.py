"""The outage tracker: one line when the database goes away, one when it is back."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError

from sapwood.server.store.outage import OutageTracker, outage_reason


def test_an_outage_is_reported_once_when_it_starts_and_once_when_it_ends() -> None:
    tracker = OutageTracker()
    assert tracker.succeeded() is None  # nothing to say while all is well

    lines = [tracker.failed("connection refused") for _ in range(100)]
    assert lines[0] == "database unreachable: connection refused"
    assert lines[1:] == [None] * 99

    assert tracker.succeeded() == "database reachable again"
    assert tracker.succeeded() is None
    assert tracker.failed("timeout") == "database unreachable: timeout"


def test_the_reason_is_the_drivers_first_line() -> None:
    exc = OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))
    assert outage_reason(exc) == "unable to open database file"
