"""Making the database unreachable in a test, as an outage would, on SQLite and PostgreSQL.

PostgreSQL is reached through a TCP relay in the test's own event loop: ``cut()`` closes
every relayed connection and stops listening (connection refused), ``mend()`` listens
again on the same port. SQLite lives in a folder of its own: ``cut()`` moves the folder
away so no connection can open the file, ``mend()`` puts it back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.engine import make_url

from sapwood.server.store.engine import is_sqlite


class TcpRelay:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.transport.abort()


class Outage:
    """A database URL for the server under test, and the switch that cuts it off."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self._folder = tmp_path / "db"
        self._away = tmp_path / "db-away"
        self._relay: TcpRelay | None = None
        if is_sqlite(url):
            self._folder.mkdir()
            self.url = f"sqlite+aiosqlite:///{self._folder / 'sapwood.db'}"
        else:
            parsed = make_url(url)
            self._relay = TcpRelay(parsed.host or "127.0.0.1", parsed.port or 5432)
            self._parsed = parsed
            self.url = ""

    async def start(self) -> None:
        if self._relay is not None:
            await self._relay.start()
            relayed = self._parsed.set(host="127.0.0.1", port=self._relay.port)
            self.url = relayed.render_as_string(hide_password=False)

    async def cut(self) -> None:
        if self._relay is not None:
            await self._relay.cut()
        else:
            self._folder.rename(self._away)

    async def mend(self) -> None:
        if self._relay is not None:
            await self._relay.start()
        else:
            self._away.rename(self._folder)


@contextlib.asynccontextmanager
async def outage_switch(url: str, tmp_path: Path) -> AsyncIterator[Outage]:
    outage = Outage(url, tmp_path)
    await outage.start()
    yield outage
