"""judge_underuse: under X% of the request for Y minutes, and what to request instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.observe.underuse import Sample, Underuse, judge_underuse, suggest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def samples(used: float, requested: float = 400.0, *, minutes: int = 30) -> list[Sample]:
    """One sample a minute over the last ``minutes`` minutes."""
    return [Sample(NOW - timedelta(minutes=m), used, requested) for m in range(minutes, -1, -1)]


def judge(
    points: list[Sample], *, per_replica: float = 4.0, resource: str = "cpu"
) -> Underuse | None:
    return judge_underuse(
        points,
        resource=resource,
        per_replica=per_replica,
        threshold_percent=20.0,
        window=WINDOW,
        now=NOW,
    )


def test_a_workload_using_little_of_its_request_gets_a_suggestion() -> None:
    points = samples(20.0)  # 0.2 of 4 cores
    points[5] = Sample(points[5].time, 30.0, 400.0)  # peak 0.3
    verdict = judge(points)
    assert verdict is not None
    assert verdict.peak == pytest.approx(0.3)
    assert verdict.suggested == 0.5
    assert verdict.message == (
        "used at most 0.30 of 4 CPUs over 30 min (under 20% of the request); request 0.5 CPU"
    )


def test_one_sample_above_the_threshold_is_enough_to_stay_quiet() -> None:
    points = samples(20.0)
    points[10] = Sample(points[10].time, 100.0, 400.0)  # 25% of the request
    assert judge(points) is None


def test_samples_that_do_not_cover_the_window_tell_nothing() -> None:
    assert judge(samples(0.0, minutes=20)) is None  # began 20 minutes ago
    stale = [s for s in samples(0.0) if s.time < NOW - timedelta(minutes=10)]
    assert judge(stale) is None  # nothing recent
    assert judge([]) is None


def test_no_request_means_nothing_to_compare_with() -> None:
    assert judge(samples(0.0, requested=0.0)) is None
    assert judge(samples(0.0), per_replica=0.0) is None


def test_requests_are_compared_per_sample_as_replicas_come_and_go() -> None:
    # 70 (0.7 cores) used while one replica (400) or two (800) ran: at most 17.5%.
    points = [Sample(s.time, 70.0, 800.0 if i % 2 else 400.0) for i, s in enumerate(samples(0))]
    verdict = judge(points)
    assert verdict is not None
    assert verdict.peak == pytest.approx(0.7)
    # 90 while one replica ran is 22.5% of its request: not under, though 90/800 would be.
    points = [Sample(s.time, 90.0, 800.0 if i % 2 else 400.0) for i, s in enumerate(samples(0))]
    assert judge(points) is None


def test_an_unused_gpu_suggests_running_on_cpu() -> None:
    verdict = judge(samples(0.0, requested=200.0), per_replica=2.0, resource="gpu")
    assert verdict is not None
    assert verdict.message.endswith("request no GPU (run on CPU)")
    assert "of 2 GPUs" in verdict.message


@pytest.mark.parametrize(
    ("resource", "peak", "expected"),
    [
        ("cpu", 0.1, 0.25),
        ("cpu", 0.3, 0.5),
        ("cpu", 0.6, 1.0),
        ("cpu", 2.1, 4.0),
        ("gpu", 0.0, 0.0),
        ("gpu", 0.4, 1.0),
        ("gpu", 1.5, 3.0),
    ],
)
def test_suggestions_leave_headroom_in_steps(resource: str, peak: float, expected: float) -> None:
    assert suggest(resource, peak) == expected


def test_the_smallest_window_is_covered_by_samples_taken_every_interval() -> None:
    # A 1-minute rule over samples every 15 s (a little late each time, as a real monitor
    # is): the first sample lies 16 s after the window begins, the last 13 s before now.
    interval = timedelta(seconds=15)
    points = [Sample(NOW - timedelta(seconds=s), 5.0, 400.0) for s in (44, 29, 13)]
    verdict = judge_underuse(
        points,
        resource="cpu",
        per_replica=4.0,
        threshold_percent=20.0,
        window=timedelta(minutes=1),
        now=NOW,
        sample_interval=interval,
    )
    assert verdict is not None
    assert verdict.message.startswith("used at most 0.05 of 4 CPUs over 1 min")


def test_a_window_shorter_than_its_samples_reach_still_needs_recent_samples() -> None:
    interval = timedelta(seconds=15)
    old = [Sample(NOW - timedelta(seconds=s), 5.0, 400.0) for s in (58, 43, 28)]
    assert (
        judge_underuse(
            old,
            resource="cpu",
            per_replica=4.0,
            threshold_percent=20.0,
            window=timedelta(minutes=1),
            now=NOW,
            sample_interval=interval,
        )
        is None
    )  # nothing in the last 28 s: the monitor may have stopped
