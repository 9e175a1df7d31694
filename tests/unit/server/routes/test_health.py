"""What /readyz says when no database connection comes in time."""

from __future__ import annotations

from sapwood.server.routes.health import timeout_reason


def test_a_full_pool_is_named_with_its_counts() -> None:
    reason = timeout_reason((20, 20), timeout_s=1.0)
    assert reason.startswith("no database connection within 1 s")
    assert "pool is exhausted (20 of 20 checked out)" in reason


def test_a_pool_with_room_means_a_slow_or_unreachable_database() -> None:
    assert "slow or unreachable" in timeout_reason((3, 20), timeout_s=1.0)
    assert "slow or unreachable" in timeout_reason(None, timeout_s=2.5)
