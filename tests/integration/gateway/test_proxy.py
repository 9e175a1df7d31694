"""The gateway over a routes file, in front of small upstream servers on free ports."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sapwood.server.gateway.server import build_gateway
from sapwood.server.gateway.stats import KEY_HEADER, fetch_stats, stats_key
from sapwood.server.secrets import read_server_key
from sapwood.server.settings import Settings
from sapwood.testing.waiting import eventually_sync
from tests.integration.gateway.support import (
    Upstream,
    running_gateway,
    upstreams,
    write_routes,
)


def public(endpoints: list[str], **extra: Any) -> dict[str, Any]:
    gateway = {"auth": "public", **extra.pop("gateway", {})}
    return {"team": "lab", "service": "echo", "endpoints": endpoints, "gateway": gateway, **extra}


@pytest.fixture
def replicas() -> Iterator[list[Upstream]]:
    with upstreams("a", "b", "canary") as made:
        yield made


class Gw:
    def __init__(self, url: str, routes: Path, home: Path) -> None:
        self.url = url
        self.routes = routes
        self.key = stats_key(read_server_key(None, home=home))
        self.http = httpx.Client(base_url=url, timeout=30)


@pytest.fixture
def gw(tmp_path: Path, replicas: list[Upstream]) -> Iterator[Gw]:
    routes = tmp_path / "routes.yaml"
    write_routes(routes, [public([replicas[0].endpoint])])
    settings = Settings(home=tmp_path / "home")
    gateway = build_gateway(settings, routes_file=routes, poll_interval_s=0.05, timeout_s=1.0)
    with running_gateway(gateway) as url:
        client = Gw(url, routes, settings.home)
        yield client
        client.http.close()


def test_get_reaches_the_replica_with_path_query_and_forwarding_headers(
    gw: Gw, replicas: list[Upstream]
) -> None:
    response = gw.http.get(
        "/s/lab/echo/v1/predict?x=1&y=%20z",
        headers={"Authorization": "Bearer secret", "X-Custom": "kept"},
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["upstream"] == "a"
    assert seen["url"] == "/v1/predict?x=1&y=%20z"
    headers = seen["headers"]
    assert headers["x-custom"] == "kept"
    assert "authorization" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-prefix"] == "/s/lab/echo"
    assert len(headers["x-request-id"]) >= 16
    assert headers["host"] == replicas[0].endpoint


def test_a_client_request_id_is_kept(gw: Gw) -> None:
    response = gw.http.get("/s/lab/echo/", headers={"X-Request-Id": "abc-123"})
    assert response.json()["headers"]["x-request-id"] == "abc-123"


def test_post_bodies_go_through_both_ways(gw: Gw) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    response = gw.http.post("/s/lab/echo/echo", content=body)
    assert response.status_code == 200
    assert response.content == body
    streamed = gw.http.post("/s/lab/echo/echo", content=iter([b"abc", b"def"]))
    assert streamed.content == b"abcdef"


def test_chunked_upstream_responses_arrive_whole(gw: Gw) -> None:
    response = gw.http.get("/s/lab/echo/chunked")
    assert response.status_code == 200
    assert response.headers["x-kind"] == "chunked"
    assert response.content == b"first,second," + b"third" * 1000


def test_large_responses_stream_through_whole(gw: Gw) -> None:
    with gw.http.stream("GET", "/s/lab/echo/big") as response:
        body = b"".join(response.iter_bytes())
    assert body == bytes(range(256)) * (32 * 1024)
    assert gw.http.get("/s/lab/echo/").status_code == 200


def test_head_answers_headers_only_and_the_connection_stays_usable(
    gw: Gw, replicas: list[Upstream]
) -> None:
    response = gw.http.head("/s/lab/echo/v1")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""
    assert gw.http.get("/s/lab/echo/v2").json()["url"] == "/v2"
    assert replicas[0].connections == 1


def test_connections_to_replicas_are_reused(gw: Gw, replicas: list[Upstream]) -> None:
    for _ in range(50):
        assert gw.http.get("/s/lab/echo/").status_code == 200
    assert len(replicas[0].requests) == 50
    assert replicas[0].connections == 1


def test_unknown_services_are_404_json(gw: Gw) -> None:
    response = gw.http.get("/s/lab/nope/")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "service nope not found in team lab"
    assert gw.http.get("/elsewhere").status_code == 404


def test_requests_spread_over_replicas(gw: Gw, replicas: list[Upstream]) -> None:
    write_routes(gw.routes, [public([replicas[0].endpoint, replicas[1].endpoint])])
    eventually_sync(lambda: gw.http.get("/s/lab/echo/").json()["upstream"] == "b")
    answered = {gw.http.get("/s/lab/echo/").json()["upstream"] for _ in range(20)}
    assert answered == {"a", "b"}


def test_service_rate_limit_answers_429_with_retry_after(gw: Gw, replicas: list[Upstream]) -> None:
    limit = {"rateLimit": {"requestsPerSecond": 0.1, "burst": 2}}
    write_routes(gw.routes, [public([replicas[0].endpoint], gateway=limit)])
    eventually_sync(lambda: gw.http.get("/s/lab/echo/").status_code == 429)
    response = gw.http.get("/s/lab/echo/")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert "gateway.rateLimit" in error["message"]


def test_token_rate_limit_is_named_in_the_429(gw: Gw, replicas: list[Upstream]) -> None:
    limit = {"tokenRateLimit": {"requestsPerSecond": 0.5, "burst": 1}}
    write_routes(gw.routes, [public([replicas[0].endpoint], gateway=limit)])
    eventually_sync(lambda: gw.http.get("/s/lab/echo/").status_code == 429)
    response = gw.http.get("/s/lab/echo/")
    assert "gateway.tokenRateLimit" in response.json()["error"]["message"]
    assert int(response.headers["retry-after"]) in (1, 2)


def test_bodies_over_the_limit_are_413(gw: Gw, replicas: list[Upstream]) -> None:
    write_routes(gw.routes, [public([replicas[0].endpoint], gateway={"maxRequestBytes": 1000})])
    eventually_sync(
        lambda: gw.http.post("/s/lab/echo/echo", content=b"x" * 1001).status_code == 413
    )
    seen_before = len(replicas[0].requests)
    assert gw.http.post("/s/lab/echo/echo", content=b"x" * 1000).status_code == 200
    streamed = gw.http.post("/s/lab/echo/echo", content=iter([b"x" * 600, b"y" * 600]))
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "too_large"
    assert len(replicas[0].requests) == seen_before + 1  # only the one within the limit


def test_a_request_waits_for_a_first_replica(gw: Gw, replicas: list[Upstream]) -> None:
    cold = {**public([]), "service": "cold"}
    write_routes(gw.routes, [public([replicas[1].endpoint]), cold])
    eventually_sync(lambda: gw.http.get("/s/lab/echo/").json()["upstream"] == "b")  # table reloaded
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        with httpx.Client(base_url=gw.url, timeout=30) as client:
            result["r"] = client.get("/s/lab/cold/held")

    waiting = threading.Thread(target=call)
    waiting.start()

    def held() -> int:
        stats = gw.http.get("/_sapwood/stats", headers={KEY_HEADER: gw.key}).json()
        return sum(s["held"] for s in stats["services"])

    eventually_sync(lambda: held() == 1)
    write_routes(gw.routes, [{**public([replicas[1].endpoint]), "service": "cold"}])
    waiting.join(20)
    assert result["r"].status_code == 200
    assert result["r"].json()["upstream"] == "b"
    assert held() == 0


def test_no_replica_within_hold_timeout_is_503(gw: Gw) -> None:
    write_routes(gw.routes, [public([], gateway={"holdTimeout": "300ms"})])
    eventually_sync(lambda: gw.http.get("/s/lab/echo/").status_code == 503)
    response = gw.http.get("/s/lab/echo/")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "no ready replica" in response.json()["error"]["message"]


def test_a_dead_replica_is_skipped_and_none_alive_is_502(gw: Gw, replicas: list[Upstream]) -> None:
    dead = "127.0.0.1:1"
    write_routes(gw.routes, [public([dead, replicas[0].endpoint])])
    eventually_sync(
        lambda: len(replicas[0].requests) > 0 or not gw.http.get("/s/lab/echo/").is_error
    )
    assert all(gw.http.get("/s/lab/echo/").status_code == 200 for _ in range(10))
    write_routes(gw.routes, [public([dead])])
    eventually_sync(lambda: gw.http.get("/s/lab/echo/").status_code == 502)
    assert gw.http.get("/s/lab/echo/").json()["error"]["code"] == "bad_gateway"


def test_a_slow_replica_is_504(gw: Gw) -> None:
    response = gw.http.get("/s/lab/echo/slow")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "gateway_timeout"


def test_canary_weight_sends_requests_to_the_canary(gw: Gw, replicas: list[Upstream]) -> None:
    route = public([replicas[0].endpoint], canaryEndpoints=[replicas[2].endpoint], canaryWeight=50)
    write_routes(gw.routes, [route])

    def answered(key: str) -> str:
        response = gw.http.get("/s/lab/echo/", headers={"X-Sapwood-Request-Key": key})
        return str(response.json()["upstream"])

    eventually_sync(lambda: any(answered(f"k{i}") == "canary" for i in range(20)))
    by_key = {f"k{i}": answered(f"k{i}") for i in range(40)}
    assert set(by_key.values()) == {"a", "canary"}
    assert all(answered(key) == where for key, where in by_key.items())  # the same every time


def test_shadow_copies_reach_the_canary_and_the_primary_answers(
    gw: Gw, replicas: list[Upstream]
) -> None:
    route = public(
        [replicas[0].endpoint],
        canaryEndpoints=[replicas[2].endpoint],
        canaryWeight=100,
        shadow=True,
    )
    write_routes(gw.routes, [route])
    eventually_sync(lambda: len(replicas[2].requests) > 0 or _shadowed(gw))
    before = len(replicas[2].requests)
    response = gw.http.post("/s/lab/echo/echo", content=b"mirror me")
    assert response.content == b"mirror me"
    eventually_sync(lambda: len(replicas[2].requests) > before)
    assert replicas[2].requests[-1].body == b"mirror me"
    metrics = gw.http.get("/_sapwood/metrics", headers={KEY_HEADER: gw.key}).text
    assert "sapwood_gateway_shadow_requests_total{" in metrics


def _shadowed(gw: Gw) -> bool:
    gw.http.get("/s/lab/echo/")
    return False


def test_stats_and_metrics_need_the_gateway_key(gw: Gw, replicas: list[Upstream]) -> None:
    for _ in range(3):
        gw.http.get("/s/lab/echo/")
    assert gw.http.get("/_sapwood/stats").status_code == 401
    assert gw.http.get("/_sapwood/stats", headers={KEY_HEADER: "0" * 64}).status_code == 401
    assert gw.http.get("/_sapwood/metrics").status_code == 401
    metrics = gw.http.get("/_sapwood/metrics", headers={KEY_HEADER: gw.key})
    assert metrics.status_code == 200
    text = metrics.text
    labels = f'team="lab",service="echo",replica="{replicas[0].endpoint}",code="200"'
    assert f"sapwood_gateway_requests_total{{{labels}}} 3" in text
    assert "sapwood_gateway_request_duration_seconds_bucket{" in text
    assert 'sapwood_gateway_in_flight{team="lab",service="echo"} 0' in text
    assert 'sapwood_gateway_held{team="lab",service="echo"} 0' in text


@pytest.mark.anyio
async def test_fetch_stats_reads_the_window(gw: Gw) -> None:
    for _ in range(3):
        gw.http.get("/s/lab/echo/")
    stats = await fetch_stats(gw.url, gw.key)
    service = stats.service("lab", "echo")
    assert service is not None
    assert service.requests == 3
    assert service.responses == {"2xx": 3}
    assert service.in_flight == 0
    assert service.last_request_at is not None
    assert service.last_request_at <= stats.time
    with pytest.raises(httpx.HTTPStatusError):
        await fetch_stats(gw.url, "wrong")
