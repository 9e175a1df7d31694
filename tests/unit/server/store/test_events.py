"""folds: a repeat of an object's latest event, within the window, folds into it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sapwood.server.store.events import FOLD_WINDOW, EventFields, folds
from sapwood.server.store.tables import EventRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCALED = EventFields("u", "Service", "t", "api", "Normal", "Autoscaled", "scales up to 3")


def latest(*, ago: timedelta, message: str = "scales up to 3", type: str = "Normal") -> EventRow:
    return EventRow(
        uid="u",
        kind="Service",
        team="t",
        name="api",
        type=type,
        reason="Autoscaled",
        message=message,
        created_at=NOW - ago - timedelta(seconds=25),
        last_seen_at=NOW - ago,
        count=127,
    )


def test_the_same_event_within_the_window_folds() -> None:
    assert folds(latest(ago=timedelta(seconds=1)), SCALED, now=NOW, window=FOLD_WINDOW)
    assert folds(latest(ago=FOLD_WINDOW), SCALED, now=NOW, window=FOLD_WINDOW)


def test_another_message_type_or_an_old_one_is_a_new_event() -> None:
    other = latest(ago=timedelta(seconds=1), message="scales up to 4")
    assert not folds(other, SCALED, now=NOW, window=FOLD_WINDOW)
    warning = latest(ago=timedelta(seconds=1), type="Warning")
    assert not folds(warning, SCALED, now=NOW, window=FOLD_WINDOW)
    stale = latest(ago=FOLD_WINDOW + timedelta(seconds=1))
    assert not folds(stale, SCALED, now=NOW, window=FOLD_WINDOW)
    assert not folds(None, SCALED, now=NOW, window=FOLD_WINDOW)
