"""Retention of utilisation samples: when a sweep is due and where its cutoff lies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.observe.retention import retention_cutoff, sweep_due

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("last_sweep", "due", "why"),
    [
        (None, True, "no sweep yet: one at start"),
        (NOW - timedelta(minutes=3), False, "swept 3 minutes ago"),
        (NOW - EVERY, True, "swept exactly one period ago"),
        (NOW - timedelta(hours=2), True, "long ago"),
        (NOW + timedelta(hours=1), True, "the clock went back: do not wait for it"),
    ],
)
def test_sweep_due(last_sweep: datetime | None, due: bool, why: str) -> None:
    assert sweep_due(last_sweep, NOW, every=EVERY) is due, why


def test_the_cutoff_is_the_retention_before_now() -> None:
    assert retention_cutoff(NOW, timedelta(days=7)) == datetime(2026, 2, 22, 12, 0, tzinfo=UTC)
