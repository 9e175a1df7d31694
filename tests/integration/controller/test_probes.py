"""Probes against real sockets and processes: pass, fail, and time out when they hang."""

from __future__ import annotations

import asyncio

import pytest

from sapwood.server.controller.probes import run_probe
from sapwood.specs.probes import Probe

pytestmark = pytest.mark.anyio


async def _server(handler):  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_http_probe_passes_on_2xx_and_fails_on_5xx() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        status = b"200 OK" if b"GET /ok" in request else b"503 Unavailable"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server, port = await _server(handle)
    async with server:
        ok = await run_probe(Probe.model_validate({"http": {"path": "/ok"}}), port)
        bad = await run_probe(Probe.model_validate({"http": {"path": "/bad"}}), port)
    assert ok == (True, "")
    assert bad == (False, "HTTP 503 from /bad")


async def test_hanging_http_probe_times_out() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # until the prober gives up and closes
        finally:
            writer.close()

    server, port = await _server(hang)
    async with server:
        probe = Probe.model_validate({"http": {"path": "/"}, "timeout": "200ms"})
        passed, why = await run_probe(probe, port)
    assert not passed
    assert why == "timed out after 0.2s"


async def test_tcp_probe_fails_on_a_closed_port() -> None:
    server, port = await _server(lambda r, w: w.close())
    async with server:
        assert (await run_probe(Probe.model_validate({"tcp": {}}), port))[0]
    passed, why = await run_probe(Probe.model_validate({"tcp": {}}), port)
    assert not passed
    assert why


async def test_hanging_exec_probe_is_killed_at_its_timeout() -> None:
    probe = Probe.model_validate({"exec": {"command": ["sleep", "30"]}, "timeout": "200ms"})
    assert await run_probe(probe, None) == (False, "timed out after 0.2s")
    ok = Probe.model_validate({"exec": {"command": ["sh", "-c", 'test -n "$PORT"']}})
    assert await run_probe(ok, 8080) == (True, "")
