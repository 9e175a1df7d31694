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

from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.server.store.engine import is_sqlite


class TcpRelay:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stops listening and drops every relayed connection; returns once all are gone."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            self._tasks.discard(task)
            return
        self._writers.add(up_writer)
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                end.transport.abort()
                self._writers.discard(end)
            self._tasks.discard(task)


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

    async def close(self) -> None:
        """Drops the relay, if any, and every connection through it."""
        if self._relay is not None:
            await self._relay.cut()

    async def mend(self) -> None:
        if self._relay is not None:
            await self._relay.start()
        else:
            self._away.rename(self._folder)


@contextlib.asynccontextmanager
async def outage_switch(url: str, tmp_path: Path) -> AsyncIterator[Outage]:
    outage = Outage(url, tmp_path)
    await outage.start()
    try:
        yield outage
    finally:
        await outage.close()


def outage_settings(outage: Outage, tmp_path: Path) -> Settings:
    """A server on the outage's database, with neither controller nor gateway: the test
    drives the store alone."""
    return Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=outage.url),
        controller=ControllerSettings(enabled=False),
        gateway=GatewaySettings(enabled=False),
    )
