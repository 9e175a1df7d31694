"""Small upstream servers and an in-thread gateway for the gateway's integration tests."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httptools
import uvloop
import yaml

from sapwood.server.gateway.listener import GatewayServer
from sapwood.server.gateway.proxy import Gateway
from sapwood.testing.servers import free_port
from sapwood.testing.waiting import eventually_sync


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """A replica stand-in on a free port: answers with what it received, as JSON.

    ``/echo`` answers the body itself; ``/chunked`` answers in chunks; ``/big`` sends 8 MiB;
    ``/slow`` waits 3 s; ``/split`` writes its head and its body 50 ms apart.
    """

    name: str
    port: int = 0
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    transports: list[asyncio.BaseTransport] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


class _UpstreamProtocol(asyncio.Protocol):
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        upstream.connections += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.upstream.transports.append(transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        seen = Seen(
            self.parser.get_method().decode(), self.url.decode(), self.headers, b"".join(self.body)
        )
        self.url, self.headers, self.body = b"", {}, []
        self.upstream.requests.append(seen)
        if seen.url.startswith("/slow"):
            asyncio.get_running_loop().call_later(3, self._answer, seen)
        else:
            self._answer(seen)

    def _answer(self, seen: Seen) -> None:
        if self.transport.is_closing():
            return
        if seen.url.startswith("/chunked"):
            parts = [b"first,", b"second,", b"third" * 1000]
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-kind: chunked\r\n\r\n"
                + chunks
                + b"0\r\n\r\n"
            )
            return
        if seen.url.startswith("/split"):  # the head now, the body a little later
            body = b"the body, written apart"
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
            asyncio.get_running_loop().call_later(0.05, self.transport.write, body)
            return
        if seen.url.startswith("/big"):
            big = bytes(range(256)) * (32 * 1024)  # 8 MiB, more than the gateway buffers
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(big))
            self.transport.write(big)
            return
        if seen.url.startswith("/echo"):
            body, kind = seen.body, b"application/octet-stream"
        else:
            description = {
                "upstream": self.upstream.name,
                "method": seen.method,
                "url": seen.url,
                "headers": seen.headers,
            }
            body, kind = json.dumps(description).encode(), b"application/json"
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
            % (kind, len(body), body)
        )


@contextmanager
def upstreams(*names: str) -> Iterator[list[Upstream]]:
    """Upstream servers, one per name, on one event loop in a thread."""
    loop = asyncio.new_event_loop()
    servers: list[asyncio.Server] = []
    made = [Upstream(name) for name in names]

    async def start() -> None:
        for upstream in made:
            server = await loop.create_server(partial(_UpstreamProtocol, upstream), "127.0.0.1", 0)
            upstream.port = server.sockets[0].getsockname()[1]
            servers.append(server)

    thread = threading.Thread(target=loop.run_forever, name="upstreams", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield made
    finally:

        async def stop() -> None:
            for server in servers:
                server.close()
            for upstream in made:
                for transport in upstream.transports:
                    transport.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def running_gateway(gateway: Gateway, **options: Any) -> Iterator[str]:
    """Serves ``gateway`` on a free loopback port in a thread; yields its base URL.

    ``options`` go to ``GatewayServer`` (``keep_alive_s``, ``max_connections``, …).
    """
    port = free_port()
    server = GatewayServer(gateway, host="127.0.0.1", port=port, graceful_s=2, **options)
    thread = threading.Thread(
        target=uvloop.run, args=(server.serve(handle_signals=False),), name="gateway", daemon=True
    )
    thread.start()
    eventually_sync(lambda: server.started.is_set() or not thread.is_alive())
    assert server.started.is_set(), "the gateway did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(30)


def write_routes(path: Path, services: list[dict[str, Any]]) -> None:
    """Replaces the routes file in one step, as an editor or a deploy script would."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump({"services": services}))
    os.replace(temporary, path)
