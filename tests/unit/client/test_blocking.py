"""The blocking Client runs AsyncClient's verbs: results, pages, streams and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sapwood.client import Client, NotFoundError
from sapwood.testing.documents import job, stored


def envelope(name: str) -> dict[str, Any]:
    return stored(job(name), team="ml")


class Logs(httpx.AsyncByteStream):
    """An endless log stream that notes when the client hangs up."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        n = 0
        while True:
            n += 1
            yield f"line {n}\n".encode()

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """Two pages of jobs, a job that does not exist, endless logs and a results export."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.logs = Logs()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, params = request.url.path, request.url.params
        if path == "/api/v1/jobs":
            if params.get("continue") == "page2":
                return httpx.Response(200, json={"items": [envelope("c")]})
            return httpx.Response(
                200, json={"items": [envelope("a"), envelope("b")], "continue": "page2"}
            )
        if path == "/api/v1/jobs/train/logs":
            return httpx.Response(200, stream=self.logs)
        if path == "/api/v1/feeds/traffic/results":
            return httpx.Response(200, content=b"sequence,prediction\n")
        body = {"error": {"code": "not_found", "message": f"{path} does not exist"}}
        return httpx.Response(404, json=body)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client("http://sapwood.test", token="t", transport=httpx.MockTransport(server)) as c:
        yield c


def test_list_follows_every_page(client: Client) -> None:
    assert [o.metadata.name for o in client.list("jobs")] == ["a", "b", "c"]


def test_iter_fetches_pages_as_they_are_read(client: Client, server: Server) -> None:
    items = client.iter("jobs", page_size=2)
    assert next(items).metadata.name == "a"
    assert len(server.requests) == 1
    assert [o.metadata.name for o in items] == ["b", "c"]
    assert len(server.requests) == 2


def test_leaving_a_log_stream_early_closes_it(client: Client, server: Server) -> None:
    lines = client.logs("job", "train", follow=True)
    first = next(lines)
    assert first.startswith(b"line 1")
    lines.close()
    assert server.logs.closed


def test_server_errors_raise_as_in_the_async_client(client: Client) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        client.get("job", "missing")


def test_export_takes_the_time_window(client: Client, server: Server) -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = datetime(2026, 1, 2, tzinfo=UTC)
    assert client.export_feed_results("traffic", since=since, until=until).startswith(b"seq")
    params = server.requests[-1].url.params
    assert (params["since"], params["until"]) == (since.isoformat(), until.isoformat())


def test_works_inside_a_running_event_loop(server: Server) -> None:
    """A notebook runs its cells inside an event loop; the client uses its own."""

    async def cell() -> list[str]:
        with Client("http://sapwood.test", transport=httpx.MockTransport(server)) as c:
            return [o.metadata.name for o in c.list("jobs")]

    assert asyncio.run(cell()) == ["a", "b", "c"]


def test_close_is_idempotent(server: Server) -> None:
    c = Client("http://sapwood.test", transport=httpx.MockTransport(server))
    c.close()
    c.close()
