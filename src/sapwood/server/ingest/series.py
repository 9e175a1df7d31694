"""A feed's throughput and backlog over time, in fixed buckets (the dashboard's charts).

Pure: the service loads the batches, this counts. Buckets are aligned to whole multiples of
``bucket`` since the epoch; the last one holds ``now`` and ends there. A batch's records are
ingested together and scored together, so each batch is one ingest event and, once scored,
one scoring event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_BUCKETS = 1440


@dataclass(frozen=True)
class Waiting:
    """A batch not scored yet."""

    ingested_at: datetime
    count: int


@dataclass(frozen=True)
class Scored:
    """A scored batch."""

    ingested_at: datetime
    scored_at: datetime
    count: int


@dataclass(frozen=True)
class FeedSeries:
    """Per bucket: records ingested, records scored, and the backlog at the bucket's end."""

    starts: list[datetime]
    bucket: timedelta
    ingested: list[int]
    scored: list[int]
    backlog: list[int]


def buckets(now: datetime, window: timedelta, bucket: timedelta) -> tuple[datetime, int]:
    """(start of the first bucket, number of buckets) covering ``window`` up to ``now``."""
    size = bucket.total_seconds()
    if size <= 0:
        raise ValueError("bucket must be positive")
    if window < bucket:
        raise ValueError("window must be at least one bucket")
    count = math.ceil(window.total_seconds() / size)
    if count > MAX_BUCKETS:
        raise ValueError(f"window holds {count} buckets; at most {MAX_BUCKETS}")
    last = datetime.fromtimestamp(now.timestamp() // size * size, UTC)
    return last - bucket * (count - 1), count


def feed_series(
    *,
    waiting: Sequence[Waiting],
    scored: Sequence[Scored],
    now: datetime,
    window: timedelta,
    bucket: timedelta,
) -> FeedSeries:
    """Bucket the batches. ``scored`` needs every batch scored since the first bucket's start
    (older ones change nothing in the window); ``waiting`` every batch not scored yet.
    Events after ``now`` have not happened yet."""
    origin, count = buckets(now, window, bucket)
    size = bucket.total_seconds()

    def index(at: datetime) -> int:  # may be < 0 (before the window); count: not yet
        if at > now:
            return count
        return math.floor((at - origin).total_seconds() / size)

    ingested = [0] * count
    done = [0] * count
    delta = [0] * (count + 1)  # backlog changes: +records where it starts, - where scored

    def add(ingest: int, score: int, records: int) -> None:
        if 0 <= ingest < count:
            ingested[ingest] += records
        if 0 <= score < count:
            done[score] += records
        start, stop = max(ingest, 0), min(score, count)
        if start < stop:
            delta[start] += records
            delta[stop] -= records

    for w in waiting:
        add(index(w.ingested_at), count, w.count)
    for s in scored:
        add(index(s.ingested_at), index(s.scored_at), s.count)
    backlog, level = [], 0
    for change in delta[:count]:
        level += change
        backlog.append(level)
    starts = [origin + bucket * i for i in range(count)]
    return FeedSeries(starts, bucket, ingested, done, backlog)
