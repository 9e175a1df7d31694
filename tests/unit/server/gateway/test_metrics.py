from __future__ import annotations

from sapwood.server.gateway.metrics import GATEWAY, GatewayMetrics, render_prometheus


def test_prometheus_text_counts_by_replica_and_code() -> None:
    now = [100.0]
    metrics = GatewayMetrics(lambda: now[0])
    key = ("lab", "echo")
    for status in (200, 200, 500):
        load = metrics.admitted(key)
        metrics.dispatched(key, "127.0.0.1:9001")
        now[0] += 0.002
        metrics.returned("127.0.0.1:9001")
        metrics.answered(key, "127.0.0.1:9001", status, 0.002)
        metrics.finished(load)
    metrics.answered(key, GATEWAY, 429, 0.0)
    text = render_prometheus(metrics)
    replica = 'team="lab",service="echo",replica="127.0.0.1:9001"'
    assert f'sapwood_gateway_requests_total{{{replica},code="200"}} 2' in text
    assert f'sapwood_gateway_requests_total{{{replica},code="500"}} 1' in text
    assert (
        'sapwood_gateway_requests_total{team="lab",service="echo",replica="",code="429"} 1' in text
    )
    assert f'sapwood_gateway_request_duration_seconds_bucket{{{replica},le="0.001"}} 0' in text
    assert f'sapwood_gateway_request_duration_seconds_bucket{{{replica},le="0.0025"}} 3' in text
    assert f'sapwood_gateway_request_duration_seconds_bucket{{{replica},le="+Inf"}} 3' in text
    assert f"sapwood_gateway_request_duration_seconds_count{{{replica}}} 3" in text
    assert f"sapwood_gateway_replica_in_flight{{{replica}}} 0" in text
    assert 'sapwood_gateway_in_flight{team="lab",service="echo"} 0' in text


def test_the_snapshot_counts_responses_by_class() -> None:
    now = [100.0]
    metrics = GatewayMetrics(lambda: now[0])
    load = metrics.admitted(("lab", "echo"))
    metrics.answered(("lab", "echo"), "r", 503, 0.1)
    metrics.finished(load)
    now[0] = 102.0
    stats = metrics.snapshot().service("lab", "echo")
    assert stats is not None
    assert stats.responses == {"5xx": 1}
    assert stats.requests == 1
    assert [b.requests for b in stats.buckets] == [1, 0]
