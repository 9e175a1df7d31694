"""Thinning a metric series for display: bucket means over steps (or time), pure.

The first and last points are kept as they are, so a plot starts and ends where the run
did and the latest value is exact. The points between are grouped into equal-width
buckets of the step range (of the time range when any point lacks a step); each bucket
becomes one point at its members' mean step and time, holding their mean value and their
minimum and maximum, so spikes survive thinning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

MIN_POINTS = 3  # the first, the last, and at least one bucket between


@dataclass(frozen=True)
class Point:
    step: int | None
    time: datetime
    value: float


@dataclass(frozen=True)
class Bucket:
    """The mean of ``count`` points, shown at their mean step and time."""

    step: int | None
    time: datetime
    value: float
    min: float
    max: float
    count: int

    @classmethod
    def of(cls, point: Point) -> Bucket:
        return cls(point.step, point.time, point.value, point.value, point.value, 1)


def downsample(points: Sequence[Point], max_points: int) -> list[Bucket]:
    """At most ``max_points`` buckets, in step (else time) order; ValueError below 3.

    Each point lands in exactly one bucket, so counts add up to ``len(points)`` and the
    extremes of the buckets are the extremes of the series.
    """
    if max_points < MIN_POINTS:
        raise ValueError(f"max_points must be at least {MIN_POINTS}, got {max_points}")
    by_step = all(p.step is not None for p in points)
    ordered = sorted(points, key=lambda p: _position(p, by_step=by_step))
    if len(ordered) <= max_points:
        return [Bucket.of(p) for p in ordered]
    first, inner, last = ordered[0], ordered[1:-1], ordered[-1]
    low, high = _position(first, by_step=by_step), _position(last, by_step=by_step)
    slots = max_points - 2
    width = (high - low) / slots
    groups: list[list[Point]] = [[] for _ in range(slots)]
    for point in inner:
        offset = _position(point, by_step=by_step) - low
        index = min(int(offset / width), slots - 1) if width > 0 else 0
        groups[index].append(point)
    middle = [_mean(group, by_step=by_step) for group in groups if group]
    return [Bucket.of(first), *middle, Bucket.of(last)]


def _position(point: Point, *, by_step: bool) -> float:
    return float(point.step) if by_step and point.step is not None else point.time.timestamp()


def _mean(group: Sequence[Point], *, by_step: bool) -> Bucket:
    count = len(group)
    values = [p.value for p in group]
    step = round(sum(p.step or 0 for p in group) / count) if by_step else None
    seconds = sum(p.time.timestamp() for p in group) / count
    return Bucket(
        step=step,
        time=datetime.fromtimestamp(seconds, tz=UTC),
        value=math.fsum(v / count for v in values),  # never overflows, unlike a sum
        min=min(values),
        max=max(values),
        count=count,
    )
