"""The gateway's listening socket: accepts connections up to a cap, stops gracefully.

Past ``max_connections`` a new connection is answered 503 and closed; on SIGTERM or SIGINT
the server stops accepting, closes idle connections and lets requests in flight finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from sapwood.server.gateway.front import GatewayProtocol, closing_answer
from sapwood.server.gateway.messages import HttpError
from sapwood.server.gateway.proxy import Gateway

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 5.0  # an idle connection is closed after this long (as uvicorn does)
HEADER_TIMEOUT_S = 10.0  # a request head begun must be complete within this, else 408
MAX_CONNECTIONS = 4096  # client connections at once; past it new ones are answered 503


class GatewayServer:
    """Listens on ``host:port`` and serves ``gateway`` until told to stop.

    On SIGTERM or SIGINT (or ``stop``) it stops accepting, closes idle connections, gives
    requests in flight ``graceful_s`` to finish, then closes everything.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        host: str,
        port: int,
        graceful_s: float = 30.0,
        backlog: int = 4096,
        keep_alive_s: float = KEEP_ALIVE_S,
        header_timeout_s: float = HEADER_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if keep_alive_s <= 0 or header_timeout_s <= 0:
            raise ValueError("keep_alive_s and header_timeout_s must be over 0")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.gateway = gateway
        self.host = host
        self.port = port
        self.graceful_s = graceful_s
        self.backlog = backlog
        self.keep_alive_s = keep_alive_s
        self.header_timeout_s = header_timeout_s
        self.max_connections = max_connections
        self.connections: set[GatewayProtocol] = set()
        self.refused_connections = 0
        self.started = threading.Event()
        self.stopping = False
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, *, handle_signals: bool = True) -> None:
        """Runs until stopped; raises when the routes cannot be loaded or the port is taken."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stop.set)
        await self.gateway.start()
        try:
            server = await loop.create_server(
                lambda: GatewayProtocol(self.gateway, self),
                self.host,
                self.port,
                backlog=self.backlog,
                reuse_address=True,
            )
        except BaseException:
            await self.gateway.close()
            raise
        log.info("gateway listening on %s:%d", self.host, self.port)
        self.started.set()
        try:
            await self._stop.wait()
        finally:
            await self._shut_down(server)
            if handle_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

    def refuse_connection(self, transport: asyncio.Transport) -> None:
        """A connection past ``max_connections``: 503 before it sends anything, then closed."""
        self.refused_connections += 1
        if self.refused_connections % 1000 == 1:
            log.warning(
                "%d client connections open (the limit): refusing new ones (%d so far)",
                len(self.connections), self.refused_connections,
            )  # fmt: skip
        message = f"the gateway has {self.max_connections} connections open; try again"
        error = HttpError(503, "unavailable", message, headers=[(b"retry-after", b"1")])
        transport.write(closing_answer(error))
        transport.close()

    def stop(self) -> None:
        """Asks a running server to stop; safe from any thread."""
        loop, event = self._loop, self._stop
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def _shut_down(self, server: asyncio.AbstractServer) -> None:
        self.stopping = True
        server.close()
        for connection in list(self.connections):
            if connection.idle:
                connection.close()
        deadline = asyncio.get_running_loop().time() + self.graceful_s
        while any(not c.idle for c in self.connections):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("stopping with %d requests unanswered", len(self.connections))
                break
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.close()
        await self.gateway.close()
