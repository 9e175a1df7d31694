from __future__ import annotations

import pytest

from sapwood.server.gateway.stats import (
    ConcurrencyWindow,
    GatewayStats,
    SecondBucket,
    ServiceStats,
    stats_from_json,
    stats_key,
    stats_to_json,
)


def test_one_request_over_half_a_second_is_half_a_request_of_concurrency() -> None:
    window = ConcurrencyWindow(now=100.0)
    window.start(100.25)
    window.finish(100.75)
    assert window.buckets(101.0) == (SecondBucket(100.0, 1, 0.5),)


def test_a_request_spanning_seconds_is_split_between_them() -> None:
    window = ConcurrencyWindow(now=10.0)
    window.start(10.5)
    window.start(10.5)
    window.finish(12.25)
    assert window.in_flight == 1
    assert window.buckets(13.0) == (
        SecondBucket(10.0, 2, 1.0),
        SecondBucket(11.0, 0, 2.0),
        SecondBucket(12.0, 0, 1.25),
    )


def test_the_open_second_is_not_reported() -> None:
    window = ConcurrencyWindow(now=5.0)
    window.start(5.1)
    assert window.buckets(5.9) == ()
    assert window.last_request_at == 5.1


def test_the_window_keeps_the_last_60_seconds() -> None:
    window = ConcurrencyWindow(now=0.0)
    window.start(0.5)
    buckets = window.buckets(1000.5)
    assert len(buckets) == 60
    assert buckets[0].start == 940.0
    assert buckets[-1].start == 999.0
    assert all(b.concurrency == 1.0 and b.requests == 0 for b in buckets)


def test_counts_per_second() -> None:
    window = ConcurrencyWindow(now=0.0)
    for i in range(30):
        now = i * 0.1  # 10 requests a second for 3 s, each 50 ms
        window.start(now)
        window.finish(now + 0.05)
    buckets = window.buckets(3.0)
    assert [b.requests for b in buckets] == [10, 10, 10]
    assert [b.concurrency for b in buckets] == pytest.approx([0.5, 0.5, 0.5])


def test_averages_over_a_window() -> None:
    stats = ServiceStats(
        team="t",
        service="s",
        buckets=tuple(SecondBucket(float(i), i, float(i)) for i in range(10)),
        in_flight=0,
        held=0,
        last_request_at=None,
    )
    assert stats.requests_per_second(2) == 8.5
    assert stats.average_concurrency(60) == 4.5
    assert ServiceStats("t", "s", (), 0, 0, None).average_concurrency(6) == 0.0


def test_stats_survive_json() -> None:
    stats = GatewayStats(
        time=12.5,
        services=(
            ServiceStats(
                team="t",
                service="s",
                buckets=(SecondBucket(11.0, 3, 0.75),),
                in_flight=2,
                held=1,
                last_request_at=12.0,
                requests=3,
                responses={"2xx": 3},
            ),
        ),
    )
    assert stats_from_json(stats_to_json(stats)) == stats
    assert stats.service("t", "s") is stats.services[0]
    assert stats.service("t", "other") is None


def test_stats_key_is_derived_from_the_server_key() -> None:
    assert stats_key(b"k" * 32) == stats_key(b"k" * 32)
    assert stats_key(b"k" * 32) != stats_key(b"j" * 32)
    assert len(stats_key(b"k" * 32)) == 64
