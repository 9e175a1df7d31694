"""The gateway's stats become the autoscaler's load, second for second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sapwood.server.controller.plan.autoscaler import Load, Second
from sapwood.server.gateway.stats import GatewayStats, SecondBucket, ServiceStats
from sapwood.server.observe.gateway_load import due_warning, merge_loads, to_loads


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


def _load(
    *seconds: tuple[int, int, float], in_flight: int = 0, held: int = 0, last: int | None = None
) -> Load:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Load(
        seconds=tuple(Second(at + timedelta(seconds=s), r, c) for s, r, c in seconds),
        in_flight=in_flight,
        held=held,
        last_request_at=None if last is None else at + timedelta(seconds=last),
    )


def test_two_gateways_add_up_second_by_second() -> None:
    leader = {("lab", "echo"): _load((0, 10, 2.0), (1, 4, 1.0), in_flight=2, last=1)}
    follower = {("lab", "echo"): _load((1, 6, 1.5), (2, 3, 0.5), in_flight=1, held=0, last=2)}
    load = merge_loads([leader, follower])[("lab", "echo")]
    assert [(s.at.second, s.requests, s.concurrency) for s in load.seconds] == [
        (0, 10, 2.0),
        (1, 10, 2.5),
        (2, 3, 0.5),
    ]
    assert load.in_flight == 3
    assert load.last_request_at == datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)


def test_a_request_held_by_the_follower_alone_is_in_the_merged_load() -> None:
    leader = {("lab", "echo"): _load((0, 1, 0.1), last=0)}
    follower = {("lab", "cold"): _load(in_flight=1, held=1)}
    merged = merge_loads([leader, follower])
    assert set(merged) == {("lab", "echo"), ("lab", "cold")}
    assert merged[("lab", "cold")].held == 1
    assert merged[("lab", "cold")].last_request_at is None


def test_held_requests_on_both_gateways_are_summed() -> None:
    merged = merge_loads([{("lab", "cold"): _load(held=2)}, {("lab", "cold"): _load(held=1)}])
    assert merged[("lab", "cold")].held == 3


def test_one_gateway_merges_to_itself_and_none_to_nothing() -> None:
    alone = {("lab", "echo"): _load((0, 5, 1.0), in_flight=1, held=1, last=0)}
    assert merge_loads([alone]) == alone
    assert merge_loads([]) == {}


def test_an_unreachable_peer_is_warned_about_once_a_minute() -> None:
    assert due_warning(None, now=100.0)
    assert not due_warning(100.0, now=159.0)
    assert due_warning(100.0, now=160.0)
