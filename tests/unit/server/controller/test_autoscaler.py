"""The autoscaler's decision table: stable, panic, scale to zero, held requests, capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.controller.plan.autoscaler import (
    Bounds,
    Load,
    ScaleState,
    Second,
    decide,
)
from sapwood.specs.serving import Autoscale

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SPEC = Autoscale(target=10)


def steady(concurrency: float, seconds: int = 60, *, rps: int = 0) -> list[Second]:
    """``seconds`` seconds of the same load, ending now."""
    return [
        Second(NOW - timedelta(seconds=s), requests=rps, concurrency=concurrency)
        for s in range(1, seconds + 1)
    ]


def bounds(*, ready: int = 1, current: int = 1, lo: int = 1, hi: int = 10, room: int = 100):
    return Bounds(minimum=lo, maximum=hi, ready=ready, current=current, room=room)


@pytest.mark.parametrize(
    ("concurrency", "ready", "want", "panics"),
    [
        (0.0, 1, 1, False),  # min 1 keeps one
        (5.0, 1, 1, False),
        (10.0, 1, 1, False),
        (10.5, 1, 2, True),  # asks for twice the ready replicas
        (37.0, 4, 4, False),
        (40.0, 4, 4, False),
        (41.0, 5, 5, False),
        (500.0, 10, 10, True),  # max caps
    ],
)
def test_load_divided_by_target(concurrency: float, ready: int, want: int, panics: bool) -> None:
    decision = decide(
        Load(steady(concurrency)),
        SPEC,
        bounds(ready=ready, current=ready),
        ScaleState(ready),
        now=NOW,
    )
    assert decision.desired == want
    assert (decision.state.panic_since is not None) is panics


def test_requests_per_second_metric() -> None:
    spec = Autoscale(metric="rps", target=100)
    decision = decide(Load(steady(0.5, rps=350)), spec, bounds(), ScaleState(1), now=NOW)
    assert decision.desired == 4
    assert "requests/s" in decision.reason


def test_a_burst_enters_panic_and_follows_the_short_window() -> None:
    # 54 quiet seconds, then 6 seconds at 60 concurrent: the stable average is only 6.
    seconds = steady(0.0)[6:] + steady(60.0, 6)
    decision = decide(Load(seconds), SPEC, bounds(ready=1), ScaleState(1), now=NOW)
    assert decision.desired == 6
    assert decision.state.panic_since == NOW
    assert decision.reason.startswith("panic")


def test_below_the_panic_threshold_stays_stable() -> None:
    # The panic window asks for 2 with 2 ready: no panic, the stable window rules.
    seconds = steady(0.0)[6:] + steady(20.0, 6)
    decision = decide(Load(seconds), SPEC, bounds(ready=2, current=2), ScaleState(2), now=NOW)
    assert decision.state.panic_since is None
    assert decision.desired == 1


def test_panic_never_scales_down_until_a_calm_stable_window() -> None:
    since = NOW - timedelta(seconds=30)
    calm = Load(steady(0.0))
    held = decide(calm, SPEC, bounds(ready=6, current=6), ScaleState(6, since), now=NOW)
    assert held.desired == 6
    assert held.state.panic_since == since
    later = NOW + timedelta(seconds=31)
    done = decide(calm, SPEC, bounds(ready=6, current=6), held.state, now=later)
    assert done.state.panic_since is None
    assert done.desired == 1


def test_scale_to_zero_waits_for_the_grace_period() -> None:
    spec = Autoscale(target=10, scale_to_zero_grace=timedelta(seconds=30))
    quiet = Load(steady(0.0), last_request_at=NOW - timedelta(seconds=70))
    recent = ScaleState(1, last_active_at=NOW - timedelta(seconds=10))
    kept = decide(quiet, spec, bounds(lo=0), recent, now=NOW)
    assert kept.desired == 1
    assert "zero after 30s" in kept.reason
    stale = ScaleState(1, last_active_at=NOW - timedelta(seconds=70))
    gone = decide(quiet, spec, bounds(lo=0), stale, now=NOW)
    assert gone.desired == 0
    assert "scale to zero" in gone.reason


def test_min_above_zero_never_reaches_zero() -> None:
    stale = ScaleState(1, last_active_at=NOW - timedelta(hours=1))
    decision = decide(Load(steady(0.0)), SPEC, bounds(lo=1), stale, now=NOW)
    assert decision.desired == 1


def test_a_held_request_wakes_a_service_at_zero() -> None:
    load = Load(steady(0.0), held=3)
    decision = decide(load, SPEC, bounds(ready=0, current=0, lo=0), ScaleState(0), now=NOW)
    assert decision.desired == 1
    assert "held" in decision.reason


def test_growth_stops_at_free_capacity() -> None:
    decision = decide(
        Load(steady(80.0)), SPEC, bounds(ready=2, current=2, room=1), ScaleState(2), now=NOW
    )
    assert decision.desired == 3
    assert "capped at 3 by free capacity (wanted 8)" in decision.reason


def test_capacity_never_pushes_below_min() -> None:
    decision = decide(
        Load(steady(80.0)), SPEC, bounds(ready=0, current=0, lo=2, room=0), None, now=NOW
    )
    assert decision.desired == 2


def test_unknown_load_holds_the_last_decision() -> None:
    decision = decide(None, SPEC, bounds(ready=4, current=4), ScaleState(4), now=NOW)
    assert decision.desired == 4
    assert "holding" in decision.reason


def test_state_round_trips_through_status() -> None:
    state = ScaleState(3, NOW, NOW - timedelta(seconds=5))
    assert ScaleState.from_dict(state.to_dict("why"), 1) == state
    assert ScaleState.from_dict(None, 2) == ScaleState(2)
