"""The gateway sends a request twice only when doing so is safe.

Replicas here are small asyncio servers in the test: one reads each whole request and then
drops the connection without answering (a crash after acting on it), the other answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from sapwood.server.gateway.proxy import Gateway
from sapwood.server.gateway.routing import Route
from sapwood.specs.serving import GatewaySpec
from sapwood.testing.servers import free_port
from tests.support_gateway import whole_request

pytestmark = pytest.mark.anyio


class OneRoute:
    """A route source with one fixed route."""

    def __init__(self, route: Route) -> None:
        self.route = route

    def get(self, team: str, service: str) -> Route | None:
        return self.route if (team, service) == (self.route.team, self.route.service) else None

    async def changed(self, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass
class Replica:
    """Records the method of every whole request it read; answers them or drops them."""

    answer: bool
    methods: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    (int(v) for k, _, v in (line.partition(":") for line in lines)
                     if k.strip().lower() == "content-length"),
                    0,
                )  # fmt: skip
                await reader.readexactly(length)
                self.methods.append(lines[0].split(" ")[0])
                if not self.answer:
                    break  # read it all, then drop the connection with no answer
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def replicas() -> AsyncIterator[Callable[..., Replica]]:
    servers: list[asyncio.Server] = []

    async def start(*, answer: bool) -> Replica:
        replica = Replica(answer=answer)
        server = await asyncio.start_server(replica.handle, "127.0.0.1", 0)
        replica.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return replica

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()
        await server.wait_closed()


def gateway_for(*replicas: Replica) -> Gateway:
    route = Route(
        "lab", "echo", endpoints=tuple(r.endpoint for r in replicas),
        gateway=GatewaySpec(auth="public"),
    )  # fmt: skip
    return Gateway(OneRoute(route), auth=None, stats_key="k", timeout_s=5.0)


async def send(gateway: Gateway, method: bytes, body: bytes = b"") -> tuple[int, str]:
    headers = [(b"host", b"gw"), (b"content-length", str(len(body)).encode())]
    response = await gateway.handle(whole_request(method, b"/s/lab/echo/predict", headers, body))
    if response.after is not None:
        response.after()
    return response.status, response.body.decode()


async def test_a_post_the_replica_read_is_never_sent_again(
    replicas: Callable[..., asyncio.Future[Replica]],
) -> None:
    droppers = [await replicas(answer=False), await replicas(answer=False)]
    gateway = gateway_for(*droppers)
    try:
        status, body = await send(gateway, b"POST", b'{"charge": 100}')
    finally:
        await gateway.close()
    assert sum(len(r.methods) for r in droppers) == 1  # one replica, once
    assert status == 502
    message = json.loads(body)["error"]["message"]
    assert "may have received this POST request" in message
    assert "not idempotent" in message


async def test_a_post_on_a_reused_connection_is_not_sent_again(
    replicas: Callable[..., asyncio.Future[Replica]],
) -> None:
    # The replica answers the first request, keeps the connection, then drops the POST:
    # the pool's "stale keep-alive connection" retry must not apply to it.
    replica = await replicas(answer=True)
    gateway = gateway_for(replica)
    try:
        assert (await send(gateway, b"GET"))[0] == 200
        replica.answer = False
        status, _ = await send(gateway, b"POST", b"x")
    finally:
        await gateway.close()
    assert replica.methods == ["GET", "POST"]
    assert status == 502


async def test_a_get_the_replica_dropped_is_retried_on_another(
    replicas: Callable[..., asyncio.Future[Replica]],
) -> None:
    dropper, good = await replicas(answer=False), await replicas(answer=True)
    gateway = gateway_for(dropper, good)
    try:
        answers = [await send(gateway, b"GET") for _ in range(4)]
    finally:
        await gateway.close()
    assert dropper.methods, "the dropping replica was never tried first"
    assert answers == [(200, "ok")] * 4
    assert good.methods == ["GET"] * 4


async def test_a_refused_connection_is_tried_on_another_replica_even_for_post(
    replicas: Callable[..., asyncio.Future[Replica]],
) -> None:
    good = await replicas(answer=True)
    gone = f"127.0.0.1:{free_port()}"  # nothing listens: refused before a byte is sent
    route = Route(
        "lab", "echo", endpoints=(gone, good.endpoint), gateway=GatewaySpec(auth="public")
    )
    gateway = Gateway(OneRoute(route), auth=None, stats_key="k", timeout_s=5.0)
    try:
        answers = [await send(gateway, b"POST", b"x") for _ in range(2)]
    finally:
        await gateway.close()
    assert answers == [(200, "ok")] * 2
    assert good.methods == ["POST", "POST"]
