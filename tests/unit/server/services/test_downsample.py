"""Thinning a series: few enough points, first and last kept, means, extremes and counts right."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sapwood.server.services.downsample import Bucket, Point, downsample

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def at(step: int | None, value: float, *, seconds: float = 0.0) -> Point:
    return Point(step, T0 + timedelta(seconds=seconds if step is None else step), value)


def test_a_short_series_comes_back_unchanged_in_step_order() -> None:
    points = [at(2, 0.2), at(0, 0.0), at(1, 0.1)]
    assert downsample(points, 3) == [
        Bucket.of(at(0, 0.0)),
        Bucket.of(at(1, 0.1)),
        Bucket.of(at(2, 0.2)),
    ]


def test_buckets_average_equal_step_ranges_between_the_kept_first_and_last() -> None:
    # Steps 0..9; the 8 inner points (1..8) fall into 2 buckets over the range 0..9.
    points = [at(s, float(s)) for s in range(10)]
    out = downsample(points, 4)
    assert [b.count for b in out] == [1, 4, 4, 1]
    assert out[0] == Bucket.of(points[0])
    assert out[-1] == Bucket.of(points[-1])
    assert out[1].value == pytest.approx((1 + 2 + 3 + 4) / 4)
    assert (out[1].min, out[1].max, out[1].step) == (1.0, 4.0, 2)  # mean step 2.5 rounds to 2
    assert out[2].value == pytest.approx((5 + 6 + 7 + 8) / 4)
    assert (out[2].min, out[2].max) == (5.0, 8.0)


def test_a_spike_survives_as_its_buckets_max() -> None:
    points = [at(s, 1.0) for s in range(1000)]
    points[500] = at(500, 99.0)
    out = downsample(points, 10)
    assert len(out) <= 10
    assert max(b.max for b in out) == 99.0
    assert max(b.value for b in out) < 99.0  # averaged away in the mean, kept in max


def test_empty_buckets_are_left_out_when_steps_have_gaps() -> None:
    points = [at(0, 0.0), *(at(s, 1.0) for s in range(1, 5)), at(1000, 2.0)]
    out = downsample(points, 5)
    assert [b.count for b in out] == [1, 4, 1]


def test_without_steps_buckets_follow_time() -> None:
    points = [at(None, float(i), seconds=i * 10) for i in range(7)]
    out = downsample(points, 4)
    # 0..60 s: the inner points split at 30 s, the middle of the range.
    assert [b.count for b in out] == [1, 2, 3, 1]
    assert all(b.step is None for b in out[1:-1])
    assert out[1].time == T0 + timedelta(seconds=15)  # the mean of 10 and 20 s
    assert out[1].value == pytest.approx(1.5)
    assert out[2].value == pytest.approx(4.0)


def test_one_point_without_a_step_puts_the_series_on_time() -> None:
    points = [at(s, float(s)) for s in range(6)] + [at(None, 9.0, seconds=2.5)]
    out = downsample(points, 3)
    assert out[0].step == 0
    assert out[-1].step == 5
    assert out[1].step is None
    assert out[1].count == 5


def test_equal_positions_share_a_bucket() -> None:
    points = [at(3, float(v)) for v in range(6)]
    out = downsample(points, 3)
    assert [b.count for b in out] == [1, 4, 1]
    assert out[1].value == pytest.approx(2.5)


def test_huge_values_average_without_overflow() -> None:
    points = [at(s, 1e308) for s in range(10)]
    assert all(math.isclose(b.value, 1e308) for b in downsample(points, 3))


def test_fewer_than_three_points_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        downsample([at(0, 1.0)], 2)


@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300),
    max_points=st.integers(3, 50),
)
def test_every_point_counted_once_and_extremes_kept(values: list[float], max_points: int) -> None:
    points = [at(s, v) for s, v in enumerate(values)]
    out = downsample(points, max_points)
    assert len(out) <= max_points
    assert sum(b.count for b in out) == len(points)
    assert out[0].step == 0
    assert out[0].value == values[0]
    assert out[-1].step == len(values) - 1
    assert out[-1].value == values[-1]
    assert min(b.min for b in out) == min(values)
    assert max(b.max for b in out) == max(values)
    steps = [b.step or 0 for b in out]
    assert steps == sorted(steps)
    assert math.isclose(
        sum(b.value * b.count for b in out), math.fsum(values), rel_tol=1e-9, abs_tol=1e-3
    )
