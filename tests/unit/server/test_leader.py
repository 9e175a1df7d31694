"""Leader election's decisions, on each contender's own monotonic clock: wall clocks that
disagree by any amount change nothing, and a leader gives up before others may take over."""

from __future__ import annotations

import pytest

from sapwood.server.leader import (
    RELEASED,
    LeaseAction,
    LeaseView,
    Sighting,
    decide,
    sighted,
    still_leading,
)

LEASE_S = 15.0
DEADLINE_S = 10.0


def _decide(lease: LeaseView | None, sighting: Sighting | None, now: float) -> LeaseAction:
    return decide(lease, holder="b", leading=False, sighting=sighting, now=now, lease_s=LEASE_S)


def test_a_lease_first_seen_is_waited_on_for_a_whole_lease() -> None:
    """What the lease's writer believed the time was plays no part: however far ahead the
    follower's clocks are, a lease it has just seen is fresh."""
    lease = LeaseView("a", version=7, term=2)
    seen = sighted(lease, None, now=1_000_000.0)
    assert seen == Sighting(7, 1_000_000.0)
    assert _decide(lease, seen, 1_000_000.0) is LeaseAction.WAIT
    assert _decide(lease, seen, 1_000_000.0 + LEASE_S - 0.1) is LeaseAction.WAIT
    assert _decide(lease, seen, 1_000_000.0 + LEASE_S) is LeaseAction.TAKE


def test_a_renewal_restarts_the_followers_count() -> None:
    lease = LeaseView("a", version=7, term=2)
    seen = sighted(lease, None, now=0.0)
    renewed = LeaseView("a", version=8, term=2)
    seen = sighted(renewed, seen, now=LEASE_S - 1)
    assert seen == Sighting(8, LEASE_S - 1)
    assert _decide(renewed, seen, LEASE_S + 1) is LeaseAction.WAIT
    assert _decide(renewed, seen, 2 * LEASE_S - 1) is LeaseAction.TAKE


def test_an_unchanged_lease_keeps_its_first_sighting() -> None:
    lease = LeaseView("a", version=7, term=2)
    first = sighted(lease, None, now=3.0)
    assert sighted(lease, first, now=9.0) == first


def test_a_sighting_of_another_version_does_not_count() -> None:
    lease = LeaseView("a", version=9, term=3)
    assert _decide(lease, Sighting(8, 0.0), 100.0) is LeaseAction.WAIT


def test_absent_and_released_leases_are_taken_at_once() -> None:
    assert _decide(None, None, 0.0) is LeaseAction.CREATE
    released = LeaseView(RELEASED, version=4, term=2)
    assert _decide(released, sighted(released, None, now=0.0), 0.0) is LeaseAction.TAKE


def test_the_holder_renews_while_it_leads_and_takes_a_new_term_after_a_lapse() -> None:
    mine = LeaseView("b", version=4, term=2)
    args = {"holder": "b", "sighting": None, "now": 0.0, "lease_s": LEASE_S}
    assert decide(mine, leading=True, **args) is LeaseAction.RENEW  # type: ignore[arg-type]
    assert decide(mine, leading=False, **args) is LeaseAction.TAKE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("since_renewal_s", "leading"), [(0.0, True), (DEADLINE_S - 0.1, True), (DEADLINE_S, False)]
)
def test_a_leader_stops_at_its_renew_deadline(since_renewal_s: float, leading: bool) -> None:
    assert still_leading(50.0, now=50.0 + since_renewal_s, renew_deadline_s=DEADLINE_S) is leading
    assert not still_leading(None, now=0.0, renew_deadline_s=DEADLINE_S)


def test_a_leader_stops_before_any_follower_may_take_over() -> None:
    """The leader counts from the start of its last renewal, a follower from when it saw
    that renewal (later): the leader's deadline comes first, on clocks of the same rate."""
    renewal_began, follower_saw = 100.0, 100.4
    lease = LeaseView("a", version=5, term=1)
    seen = Sighting(5, follower_saw)
    stops = next(
        t / 10
        for t in range(1000, 3000)
        if not still_leading(renewal_began, now=t / 10, renew_deadline_s=DEADLINE_S)
    )
    takes = next(
        t / 10 for t in range(1000, 3000) if _decide(lease, seen, t / 10) is LeaseAction.TAKE
    )
    assert stops < takes
