"""Request bodies, request heads and the gateway's answers, without sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import pytest

from sapwood.server.gateway.messages import (
    HttpError,
    Request,
    RequestBody,
    new_request_id,
    request_head,
)
from sapwood.server.gateway.proxy import Gateway
from sapwood.server.gateway.routing import Route
from sapwood.specs.serving import GatewaySpec
from tests.support_gateway import whole_request

pytestmark = pytest.mark.anyio


async def test_a_whole_body_is_read_at_once() -> None:
    assert await RequestBody.whole(b"abc").read(10) == b"abc"


async def test_a_body_arriving_in_parts_is_joined_and_asks_for_more_once() -> None:
    asked: list[bool] = []
    body = RequestBody(lambda: asked.append(True))
    body.feed(b"ab")
    reading = asyncio.ensure_future(body.read(10))
    await asyncio.sleep(0)
    body.feed(b"cd")
    body.end()
    assert await reading == b"abcd"
    assert asked == [True]


async def test_a_body_over_the_limit_is_413_and_the_rest_discarded() -> None:
    body = RequestBody()
    reading = asyncio.ensure_future(body.read(5))
    await asyncio.sleep(0)
    body.feed(b"abcdef")
    with pytest.raises(HttpError) as raised:
        await reading
    assert raised.value.status == 413
    body.feed(b"more")
    assert body.discard
    assert body.parts == []


async def test_a_client_leaving_mid_body_is_400() -> None:
    body = RequestBody()
    body.feed(b"ab")
    reading = asyncio.ensure_future(body.read(10))
    await asyncio.sleep(0)
    body.disconnected()
    with pytest.raises(HttpError) as raised:
        await reading
    assert raised.value.status == 400


def test_the_request_head_drops_hop_by_hop_headers_and_adds_forwarding_ones() -> None:
    request = Request(
        b"POST",
        b"/s/lab/echo/v1?x=1",
        [(b"host", b"gw:8421"), (b"authorization", b"Bearer sw_x"), (b"connection", b"close"),
         (b"x-custom", b"kept"), (b"content-length", b"3")],
        client="10.0.0.9",
    )  # fmt: skip
    head = request_head(request, b"/v1", Route("lab", "echo"), b"10.0.0.9", None, 3)
    text = head.decode()
    assert text.startswith("POST /v1?x=1 HTTP/1.1\r\n")
    assert text.endswith("host: ")
    assert "authorization" not in text
    assert "connection" not in text
    for line in ("x-custom: kept", "x-forwarded-for: 10.0.0.9", "x-forwarded-proto: http",
                 "x-forwarded-prefix: /s/lab/echo", "x-forwarded-host: gw:8421",
                 "content-length: 3"):  # fmt: skip
        assert f"\r\n{line}\r\n" in text
    assert "\r\nx-request-id: " in text


def test_request_ids_are_unique() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 24 for i in ids)


class _Routes:
    def __init__(self, routes: Mapping[tuple[str, str], Route]) -> None:
        self.routes = routes

    def get(self, team: str, service: str) -> Route | None:
        return self.routes.get((team, service))

    async def changed(self, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def gateway(**routes: Route) -> Gateway:
    table = {(r.team, r.service): r for r in routes.values()}
    return Gateway(_Routes(table), auth=None, stats_key="k" * 64)


async def test_the_gateway_answers_its_own_paths() -> None:
    gw = gateway()
    health = await gw.handle(whole_request(b"GET", b"/_sapwood/healthz", []))
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    stats = await gw.handle(whole_request(b"GET", b"/_sapwood/stats", []))
    assert stats.status == 401
    keyed = [(b"x-sapwood-gateway-key", b"k" * 64)]
    assert (await gw.handle(whole_request(b"GET", b"/_sapwood/metrics", keyed))).status == 200
    elsewhere = await gw.handle(whole_request(b"GET", b"/elsewhere", []))
    assert json.loads(elsewhere.body)["error"]["code"] == "not_found"


async def test_refusals_are_json_and_counted() -> None:
    token = Route("lab", "secret", ("127.0.0.1:1",))
    limited = Route(
        "lab", "small", ("127.0.0.1:1",),
        gateway=GatewaySpec.model_validate({"auth": "public", "maxRequestBytes": 2}),
    )  # fmt: skip
    gw = gateway(token=token, limited=limited)
    missing = await gw.handle(whole_request(b"GET", b"/s/lab/nope/", []))
    assert missing.status == 404
    unauthorised = await gw.handle(whole_request(b"GET", b"/s/lab/secret/", []))
    assert unauthorised.status == 401
    big = await gw.handle(
        whole_request(b"POST", b"/s/lab/small/", [(b"content-length", b"3")], b"abc")
    )
    assert big.status == 413
    assert json.loads(big.body)["error"]["code"] == "too_large"
    codes = {key[3] for key in gw.metrics.responses}
    assert codes == {404, 401, 413}
