"""Feed workers follow the backlog: a decision table for desired_workers and next_workers."""

from __future__ import annotations

import pytest

from sapwood.server.controller.plan.feed import desired_workers, next_workers


@pytest.mark.parametrize(
    ("backlog", "minimum", "maximum", "target", "expected"),
    [
        (0, 0, 5, 100, 0),  # nothing waits: scale to zero when min allows
        (0, 1, 5, 100, 1),  # ... but never below min
        (1, 0, 5, 100, 1),  # one record wakes a worker
        (100, 0, 5, 100, 1),  # exactly one worker's share
        (101, 0, 5, 100, 2),  # ceil, not round
        (450, 1, 5, 100, 5),
        (10_000, 1, 5, 100, 5),  # capped at max
        (250, 3, 3, 100, 3),  # min == max: fixed size
        (-5, 0, 5, 100, 0),  # a negative backlog reads as none
    ],
)
def test_desired_workers(
    backlog: int, minimum: int, maximum: int, target: int, expected: int
) -> None:
    got = desired_workers(backlog, minimum=minimum, maximum=maximum, target_per_worker=target)
    assert got == expected


@pytest.mark.parametrize(
    ("current", "backlog", "expected"),
    [
        (1, 450, 5),  # up at once
        (5, 450, 5),
        (5, 120, 5),  # records still wait: keep the workers that are draining them
        (5, 0, 1),  # drained: down to what the (empty) backlog wants, here min
        (0, 0, 1),  # below min: back to min
        (9, 50, 5),  # above max (max lowered): back within bounds
    ],
)
def test_next_workers_scales_down_only_when_drained(
    current: int, backlog: int, expected: int
) -> None:
    got = next_workers(current, backlog, minimum=1, maximum=5, target_per_worker=100)
    assert got == expected
