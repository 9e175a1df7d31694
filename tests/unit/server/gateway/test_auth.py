"""stale_caller: which earlier check may stand in for the store while it is unreachable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sapwood.server.gateway.auth import Passed, stale_caller
from sapwood.server.services.access import Caller

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MEMBER = Caller(user="member", admin=False, roles={}, token_id="t1")


def test_a_recent_pass_stands_in_until_max_stale() -> None:
    passed = Passed(checked_at=100.0, caller=MEMBER, expires_at=None)
    assert stale_caller(passed, monotonic=700.0, now=NOW, max_stale_s=600.0) is MEMBER
    assert stale_caller(passed, monotonic=700.1, now=NOW, max_stale_s=600.0) is None


def test_no_pass_or_an_expired_token_never_stands_in() -> None:
    assert stale_caller(None, monotonic=100.0, now=NOW, max_stale_s=600.0) is None
    expired = Passed(checked_at=100.0, caller=MEMBER, expires_at=NOW - timedelta(seconds=1))
    assert stale_caller(expired, monotonic=100.0, now=NOW, max_stale_s=600.0) is None
    later = Passed(checked_at=100.0, caller=MEMBER, expires_at=NOW + timedelta(hours=1))
    assert stale_caller(later, monotonic=100.0, now=NOW, max_stale_s=600.0) is MEMBER
