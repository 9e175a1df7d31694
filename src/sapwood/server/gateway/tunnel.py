"""A connection upgraded (WebSocket) and admitted: bytes both ways, unchanged, until either
side closes. Used for workspaces (Jupyter's kernels and terminals); services refuse
upgrades.
"""

from __future__ import annotations

import asyncio

CONNECT_TIMEOUT_S = 5.0
HIGH_WATER_BYTES = 1024 * 1024  # unsent to one side: stop reading the other until it drains


class Tunnel:
    """Joins the client's transport to a new connection to ``endpoint``."""

    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client
        self.upstream: asyncio.Transport | None = None
        self.closed = False
        self._pending: list[bytes] = []

    async def connect(self, endpoint: str, first: bytes) -> None:
        """Opens the replica's side and sends ``first`` (the request head and whatever the
        client sent after it). OSError or TimeoutError when the replica cannot be reached."""
        host, _, port = endpoint.rpartition(":")
        loop = asyncio.get_running_loop()
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: _UpstreamSide(self), host, int(port)),
            CONNECT_TIMEOUT_S,
        )
        self.upstream = transport
        if self.closed:  # the client left while connecting
            self.upstream.close()
            return
        self.upstream.write(first + b"".join(self._pending))
        self._pending.clear()

    def from_client(self, data: bytes) -> None:
        if self.upstream is None:
            self._pending.append(data)
            return
        self.upstream.write(data)
        if self.upstream.get_write_buffer_size() > HIGH_WATER_BYTES:
            _pause(self.client)

    def from_upstream(self, data: bytes) -> None:
        self.client.write(data)
        if self.upstream is not None and self.client.get_write_buffer_size() > HIGH_WATER_BYTES:
            _pause(self.upstream)

    def drained(self) -> None:
        """Either side's buffer emptied: both read again (cheap, and rare)."""
        for transport in (self.client, self.upstream):
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for transport in (self.client, self.upstream):
            if transport is not None:
                transport.close()


def _pause(transport: asyncio.Transport) -> None:
    if not transport.is_closing():
        transport.pause_reading()


class _UpstreamSide(asyncio.Protocol):
    def __init__(self, tunnel: Tunnel) -> None:
        self.tunnel = tunnel

    def data_received(self, data: bytes) -> None:
        self.tunnel.from_upstream(data)

    def resume_writing(self) -> None:
        self.tunnel.drained()

    def connection_lost(self, exc: Exception | None) -> None:
        self.tunnel.close()
