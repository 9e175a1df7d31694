"""The gateway's stats become the autoscaler's load, second for second."""

from __future__ import annotations

from datetime import UTC, datetime

from sapwood.server.gateway.stats import GatewayStats, SecondBucket, ServiceStats
from sapwood.server.observe.gateway_load import to_loads


def test_buckets_become_seconds_with_their_times() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    stats = GatewayStats(
        time=start + 2,
        services=(
            ServiceStats(
                team="research",
                service="antinex",
                buckets=(SecondBucket(start, 12, 3.5), SecondBucket(start + 1, 0, 0.0)),
                in_flight=4,
                held=1,
                last_request_at=start + 0.5,
            ),
        ),
    )
    load = to_loads(stats)[("research", "antinex")]
    assert [(s.at.second, s.requests, s.concurrency) for s in load.seconds] == [
        (0, 12, 3.5),
        (1, 0, 0.0),
    ]
    assert (load.in_flight, load.held) == (4, 1)
    assert load.last_request_at == datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
