"""A feed's throughput and backlog per bucket, from its waiting and scored batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.ingest.series import Scored, Waiting, buckets, feed_series

NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)  # half way through the 12:00 minute
MINUTE = timedelta(minutes=1)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 1, 1, hh, mm, ss, tzinfo=UTC)


def test_buckets_are_whole_minutes_and_the_last_holds_now() -> None:
    origin, count = buckets(NOW, timedelta(hours=1), MINUTE)
    assert count == 60
    assert origin == at(11, 1)
    empty = feed_series(waiting=[], scored=[], now=NOW, window=timedelta(hours=1), bucket=MINUTE)
    assert empty.starts[0] == at(11, 1)
    assert empty.starts[-1] == at(12, 0)
    assert empty.ingested == empty.scored == empty.backlog == [0] * 60


def test_records_are_counted_in_the_minute_they_were_ingested_and_scored() -> None:
    s = feed_series(
        waiting=[],
        scored=[
            Scored(at(11, 57, 10), at(11, 57, 20), 5),
            Scored(at(11, 58, 50), at(11, 59, 5), 7),
        ],
        now=NOW,
        window=timedelta(minutes=5),
        bucket=MINUTE,
    )
    assert s.starts == [at(11, 56), at(11, 57), at(11, 58), at(11, 59), at(12, 0)]
    assert s.ingested == [0, 5, 7, 0, 0]
    assert s.scored == [0, 5, 0, 7, 0]
    # Scored in the minute it came: never waiting at a minute's end.
    assert s.backlog == [0, 0, 7, 0, 0]


def test_backlog_carries_records_from_before_the_window_until_they_are_scored() -> None:
    s = feed_series(
        waiting=[Waiting(at(10, 0), 4), Waiting(at(11, 59, 30), 2)],
        scored=[Scored(at(11, 30), at(11, 58, 1), 10)],
        now=NOW,
        window=timedelta(minutes=5),
        bucket=MINUTE,
    )
    assert s.ingested == [0, 0, 0, 2, 0]  # ingested before the window: not in its throughput
    assert s.scored == [0, 0, 10, 0, 0]
    assert s.backlog == [14, 14, 4, 6, 6]


def test_batches_scored_before_the_window_and_events_after_now_change_nothing() -> None:
    s = feed_series(
        waiting=[Waiting(at(12, 5), 3)],  # a clock ahead of ours
        scored=[Scored(at(11, 0), at(11, 1), 9), Scored(at(12, 0, 10), at(12, 1), 1)],
        now=NOW,
        window=timedelta(minutes=5),
        bucket=MINUTE,
    )
    assert s.ingested == [0, 0, 0, 0, 1]
    assert s.scored == [0, 0, 0, 0, 0]
    assert s.backlog == [0, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("window", "bucket", "message"),
    [
        (timedelta(hours=1), timedelta(0), "bucket must be positive"),
        (timedelta(seconds=30), MINUTE, "at least one bucket"),
        (timedelta(days=2), MINUTE, "at most 1440"),
    ],
)
def test_bad_windows_are_refused(window: timedelta, bucket: timedelta, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        buckets(NOW, window, bucket)
