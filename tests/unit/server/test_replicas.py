"""Which replicas' gateways the leader asks: judged on the leader's own clock."""

from __future__ import annotations

from sapwood.server.replicas import (
    PRUNE_AFTER_S,
    STALE_AFTER_S,
    ReplicaView,
    Sighting,
    live_peer_urls,
    sighted,
    to_prune,
)

A = ReplicaView("a", "http://10.0.0.1:8421", 7)
B = ReplicaView("b", "http://10.0.0.2:8421", 3)


def test_a_beating_peer_is_live_and_the_replica_itself_is_not() -> None:
    seen = sighted([A, B], {}, now=100.0)
    assert live_peer_urls([A, B], seen, own_id="a", own_url=A.gateway_url, now=100.0) == [
        B.gateway_url
    ]


def test_a_peer_whose_beat_stops_changing_is_left_out_after_three_beats() -> None:
    seen = sighted([A, B], {}, now=100.0)
    later = sighted([A, B], seen, now=100.0 + STALE_AFTER_S)  # b's beat still 3
    assert live_peer_urls([A, B], later, own_id="a", own_url=None, now=100.0 + STALE_AFTER_S) == []
    moved = ReplicaView("b", B.gateway_url, 4)
    again = sighted([A, moved], later, now=100.0 + STALE_AFTER_S + 1)
    assert live_peer_urls(
        [A, moved], again, own_id="a", own_url=None, now=100.0 + STALE_AFTER_S + 1
    ) == [B.gateway_url]


def test_a_restarted_container_at_the_same_address_is_asked_once() -> None:
    old, new = ReplicaView("b-1", B.gateway_url, 9), ReplicaView("b-2", B.gateway_url, 1)
    seen = sighted([A, old, new], {}, now=0.0)
    assert live_peer_urls([A, old, new], seen, own_id="a", own_url=None, now=0.0) == [B.gateway_url]


def test_rows_silent_for_ten_minutes_are_pruned_and_gone_rows_forgotten() -> None:
    seen = sighted([A, B], {}, now=0.0)
    assert to_prune([A, B], seen, now=PRUNE_AFTER_S - 1) == []
    assert to_prune([A, B], seen, now=PRUNE_AFTER_S) == [A, B]
    assert sighted([A], seen, now=1.0) == {"a": Sighting(7, 0.0)}
