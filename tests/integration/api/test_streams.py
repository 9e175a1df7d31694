"""Follow streams and long polls hold no database connection, one token holds a capped
number of streams, and /readyz notices when the connection pool is exhausted.

Streams are driven straight through the ASGI app (httpx's ASGI transport would wait for a
follow stream to end), with a hang-up the app sees as a client's disconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool

from sapwood.server.app import create_app
from sapwood.server.dashboard.session import COOKIE
from sapwood.server.settings import (
    ApiSettings,
    ControllerSettings,
    GatewaySettings,
    Settings,
    StoreSettings,
)
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from sapwood.testing.feeds import feed
from tests.support import Api, job

pytestmark = pytest.mark.anyio

# Bounds that keep a broken server from hanging the test; none is a timing assertion.
START_BOUND_S = 10.0
REQUEST_BOUND_S = 10.0
HANG_UP_BOUND_S = 2.0  # a stream ends at once on a hang-up; past this it is cancelled
LOGS = "/api/v1/jobs/train/logs"
DASHBOARD_LOGS = "/ui/workloads/jobs/default/train/logs"


@dataclass
class Server:
    api: Api
    app: Any

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.sapwood.engine
        return engine

    def pool_capacity(self) -> int:
        pool = self.engine.pool
        assert isinstance(pool, QueuePool)
        return pool.size() + int(pool._max_overflow)


@dataclass
class Opened:
    status: int
    headers: dict[str, str]
    body: bytes


Make = Callable[..., AbstractAsyncContextManager[Server]]


@pytest.fixture
def make_server(tmp_path: Path, database_url: str, clock: FakeClock) -> Make:
    """A server with a controller on a FakeRuntime (follow streams wait for output that
    never comes), and ``cap`` streams per token."""

    @asynccontextmanager
    async def server(*, cap: int = 8) -> AsyncIterator[Server]:
        settings = Settings(
            home=tmp_path / "home",
            api=ApiSettings(max_streams_per_token=cap),
            store=StoreSettings(database_url=database_url),
            controller=ControllerSettings(enabled=True),
            gateway=GatewaySettings(enabled=False),
        )
        tokens: list[str] = []
        app = create_app(settings, clock=clock, runtime=FakeRuntime(), on_bootstrap=tokens.append)
        async with app.router.lifespan_context(app):
            api = Api(app, tokens[0])
            await api.admin.apply([job("train")])
            try:
                yield Server(api, app)
            finally:
                await api.admin.aclose()

    return server


@asynccontextmanager
async def opened(
    app: Any, path: str, *, token: str, query: str = "follow=true", cookie: bool = False
) -> AsyncIterator[Opened]:
    """A GET whose response has started (its status and headers are in), held open until
    the block ends; then the client hangs up."""
    started = asyncio.Event()
    gone = asyncio.Event()
    asked = False
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.start":
            started.set()

    if cookie:
        auth = (b"cookie", f"{COOKIE}={token}".encode())
    else:
        auth = (b"authorization", f"Bearer {token}".encode())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"sapwood.test"), auth],
        "client": ("127.0.0.1", 40000),
        "server": ("sapwood.test", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(START_BOUND_S):
            await started.wait()
        for _ in range(3):  # an error's body follows its start at once
            await asyncio.sleep(0)
        start = messages[0]
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body = b"".join(m.get("body", b"") for m in messages[1:])
        yield Opened(start["status"], headers, body)
    finally:
        gone.set()
        try:
            async with asyncio.timeout(HANG_UP_BOUND_S):
                await task
        except TimeoutError:
            pass


async def _jobs_status(server: Server) -> int:
    async with server.api.http(server.api.admin_token) as http:
        async with asyncio.timeout(REQUEST_BOUND_S):
            return (await http.get("/api/v1/jobs")).status_code


async def test_follow_streams_past_the_pool_size_leave_other_requests_answering(
    make_server: Make,
) -> None:
    async with make_server(cap=64) as server, AsyncExitStack() as streams:
        await server.api.admin.apply([feed("ids", team="default")])
        token = server.api.admin_token
        capacity = server.pool_capacity()
        for i in range(capacity + 2):
            # Half through the API, half through the dashboard's live log.
            path, cookie = (LOGS, False) if i % 2 == 0 else (DASHBOARD_LOGS, True)
            stream = await streams.enter_async_context(
                opened(server.app, path, token=token, cookie=cookie)
            )
            assert stream.status == 200, stream.body
        async with server.api.http(token) as http:
            polls = [
                asyncio.create_task(http.post("/api/v1/feeds/ids/lease", params={"wait": 20}))
                for _ in range(capacity + 2)
            ]
            try:
                assert await _jobs_status(server) == 200
                async with asyncio.timeout(REQUEST_BOUND_S):
                    ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
            finally:
                for poll in polls:
                    poll.cancel()
                await asyncio.gather(*polls, return_exceptions=True)


async def test_a_token_past_its_stream_cap_gets_429_until_a_stream_hangs_up(
    make_server: Make,
) -> None:
    async with make_server(cap=2) as server:
        token = server.api.admin_token
        other = (await server.api.admin.create_token(description="second")).token
        async with opened(server.app, LOGS, token=token) as first:
            assert first.status == 200
            async with opened(server.app, DASHBOARD_LOGS, token=token, cookie=True) as second:
                assert second.status == 200
                async with opened(server.app, LOGS, token=token) as refused:
                    assert refused.status == 429
                    assert refused.headers["retry-after"] == "5"
                    assert b"2 are open and the cap is 2" in refused.body
                    assert b"SAPWOOD_MAX_STREAMS_PER_TOKEN" in refused.body
                async with opened(server.app, DASHBOARD_LOGS, token=token, cookie=True) as page:
                    assert page.status == 429
                async with opened(server.app, LOGS, token=other) as elsewhere:
                    assert elsewhere.status == 200  # the cap is per token
                # Logs read without follow end by themselves and are not counted.
                async with opened(server.app, LOGS, token=token, query="") as read:
                    assert read.status == 200
            # The dashboard stream hung up: its place is free again.
            async with opened(server.app, LOGS, token=token) as again:
                assert again.status == 200


async def test_readyz_answers_503_naming_the_pool_when_it_is_exhausted(
    make_server: Make,
) -> None:
    async with make_server() as server, server.api.http() as http:
        held: list[AsyncConnection] = []
        try:
            for _ in range(server.pool_capacity()):
                held.append(await server.engine.connect())
            async with asyncio.timeout(REQUEST_BOUND_S):
                ready = await http.get("/readyz")
            assert ready.status_code == 503
            reason = ready.json()["reason"]
            capacity = server.pool_capacity()
            assert f"pool is exhausted ({capacity} of {capacity} checked out)" in reason
        finally:
            for connection in held:
                await connection.close()
        assert (await http.get("/readyz")).status_code == 200


async def test_readyz_answers_503_when_the_database_is_down(make_server: Make) -> None:
    async with make_server() as server, server.api.http() as http:
        state = server.app.state.sapwood
        working = state.engine, state.sessions
        # Nothing listens on port 1: every connection is refused.
        state.engine = create_engine("postgresql://postgres@127.0.0.1:1/gone")
        state.sessions = session_factory(state.engine)
        try:
            async with asyncio.timeout(REQUEST_BOUND_S):
                ready = await http.get("/readyz")
        finally:
            await state.engine.dispose()
            state.engine, state.sessions = working
        assert ready.status_code == 503
        assert ready.json()["reason"].startswith("the database does not answer")
