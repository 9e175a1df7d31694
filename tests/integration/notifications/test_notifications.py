"""Notifications end to end: the API, the notifier reading events, a real local receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sapwood.client.errors import SapwoodError
from sapwood.server.observe.messages import classify
from sapwood.server.observe.notifier import Notifier
from sapwood.server.store.tables import EventRow
from sapwood.testing.clock import FakeClock
from tests.support import Api

pytestmark = pytest.mark.anyio

SECRET = "s3cret-hmac-key-do-not-show"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP/1.1 server on loopback that records requests and answers ``statuses``."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?token=abc"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(path, headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    server = await asyncio.start_server(recv.handle, "127.0.0.1", 0)
    recv.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recv


@dataclass
class Setup:
    api: Api
    notifier: Notifier
    clock: FakeClock

    async def start(self) -> None:
        """Starts the notifier's loop: its cursor begins at the newest event."""
        await self.notifier.start()
        await self.notifier.wait_ticks(1)

    async def next_round(self) -> None:
        """Moves the fake clock to the notifier's next round and waits for it to end."""
        done = self.notifier.ticks
        self.clock.advance(await self.clock.sleeping())
        await self.notifier.wait_ticks(done + 1)


@pytest.fixture
async def setup(api: Api, clock: FakeClock) -> AsyncIterator[Setup]:
    app: Any = api.transport.app
    policy = app.state.sapwood.settings.notifications.webhook_policy  # loopback allowed
    notifier = Notifier(app.state.sapwood.sessions, clock, policy=policy)
    app.state.sapwood.notifier = notifier  # the test endpoint uses it too
    await api.admin.create_team("alpha")
    yield Setup(api, notifier, clock)
    await notifier.stop()


async def _event(
    s: Setup, kind: str, name: str, reason: str, *, uid: str = "u", warn: bool = False
) -> None:
    app: Any = s.api.transport.app
    async with app.state.sapwood.sessions() as session:
        session.add(
            EventRow(
                uid=uid,
                kind=kind,
                team="alpha",
                name=name,
                type="Warning" if warn else "Normal",
                reason=reason,
                message=f"{name} {reason}",
                created_at=app.state.sapwood.clock.now(),
            )
        )
        await session.commit()


def test_classify_maps_controller_reasons() -> None:
    assert classify("Job", "Normal", "Succeeded") == "job.succeeded"
    assert classify("Job", "Warning", "BackoffLimitExceeded") == "job.failed"
    assert classify("Job", "Warning", "CommandNotFound") == "job.failed"
    assert classify("Job", "Warning", "BackOff") is None
    assert classify("Service", "Warning", "Preempted") == "preempted"
    assert classify("Service", "Warning", "ProbeFailed") == "service.unhealthy"
    assert classify("Service", "Normal", "NotReady") == "service.unhealthy"
    assert classify("Workspace", "Normal", "Paused") == "workspace.paused"
    assert classify("Job", "Normal", "Started") is None


async def test_channels_and_rules_crud_never_return_the_secret(setup: Setup) -> None:
    admin = setup.api.admin
    channel = await admin.set_channel(
        "hook", type="webhook", url="https://example.com/h", secret=SECRET, team="alpha"
    )
    assert channel.has_secret
    rule = await admin.set_rule(
        "fails", channel="hook", events=["job.failed", "preempted"], selector="app=x", team="alpha"
    )
    assert [e.value for e in rule.events] == ["job.failed", "preempted"]
    async with setup.api.http(setup.api.admin_token) as http:
        for path in ("channels", "channels", "rules"):
            response = await http.get(f"/api/v1/teams/alpha/{path}")
            assert response.status_code == 200
            assert SECRET not in response.text
        put = await http.put(
            "/api/v1/teams/alpha/channels/hook",
            json={"type": "webhook", "url": "https://example.com/h", "secret": SECRET},
        )
        assert SECRET not in put.text
    assert [c.name for c in await admin.list_channels(team="alpha")] == ["hook"]
    with pytest.raises(SapwoodError) as used:
        await admin.delete_channel("hook", team="alpha")
    assert used.value.status == 409
    await admin.delete_rule("fails", team="alpha")
    await admin.delete_channel("hook", team="alpha")
    assert await admin.list_rules(team="alpha") == []


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("channels/c", {"type": "webhook", "url": "ftp://x"}, "url", "http"),
        ("channels/c", {"type": "email", "url": "http://x"}, "type", "slack"),
        ("channels/Bad_Name", {"type": "webhook", "url": "http://x"}, "path.name", "lowercase"),
        ("rules/r", {"channel": "c", "events": ["job.exploded"]}, "events.0", "job.succeeded"),
        ("rules/r", {"channel": "nope", "events": ["job.failed"]}, "channel", "nope"),
        (
            "rules/r",
            {"channel": "c", "events": ["job.failed"], "selector": "a=b=c="},
            "selector",
            "",
        ),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    setup: Setup, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    async with setup.api.http(setup.api.admin_token) as http:
        response = await http.put(f"/api/v1/teams/alpha/{path}", json=body)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["path"] == field and words in d["message"] for d in details), details


async def test_webhook_is_signed_and_rules_match_by_event_and_selector(
    setup: Setup, receiver: Receiver
) -> None:
    admin = setup.api.admin
    await admin.set_channel("hook", type="webhook", url=receiver.url, secret=SECRET, team="alpha")
    await admin.set_rule(
        "x-fails", channel="hook", events=["job.failed"], selector="app=x", team="alpha"
    )
    await admin.set_rule("done", channel="hook", events=["job.succeeded"], team="alpha")
    doc = {
        "apiVersion": "sapwood/v1",
        "kind": "Job",
        "metadata": {"name": "xjob", "team": "alpha", "labels": {"app": "x"}},
        "spec": {"command": ["true"]},
    }
    await admin.apply(
        [doc, {**doc, "metadata": {"name": "yjob", "team": "alpha", "labels": {"app": "y"}}}]
    )
    xuid = (await admin.get("Job", "xjob", team="alpha")).metadata.uid
    yuid = (await admin.get("Job", "yjob", team="alpha")).metadata.uid
    await setup.start()
    await _event(setup, "Job", "xjob", "BackoffLimitExceeded", uid=xuid, warn=True)
    await _event(setup, "Job", "yjob", "BackoffLimitExceeded", uid=yuid, warn=True)  # selector
    await _event(setup, "Job", "xjob", "Started", uid=xuid)  # not a notification
    await _event(setup, "Job", "yjob", "Succeeded", uid=yuid)
    await _event(setup, "Workspace", "ws", "Paused")  # no rule
    await setup.next_round()
    assert len(receiver.requests) == 2
    await setup.next_round()
    assert len(receiver.requests) == 2  # the cursor moved on: nothing is posted twice

    bodies = [json.loads(r.body) for r in receiver.requests]
    assert [(b["event"], b["name"]) for b in bodies] == [
        ("job.failed", "xjob"),
        ("job.succeeded", "yjob"),
    ]
    assert set(bodies[0]) == {"event", "kind", "team", "name", "reason", "message", "time"}
    assert bodies[0]["reason"] == "BackoffLimitExceeded"
    assert bodies[0]["team"] == "alpha"
    for request in receiver.requests:
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-sapwood-signature"] == f"sha256={expected}"
        assert request.headers["x-sapwood-event"] == json.loads(request.body)["event"]
        assert request.path == "/hook?token=abc"
    log = await admin.list_deliveries(team="alpha")
    assert [(d.event, d.status_code, d.ok) for d in log] == [
        ("job.succeeded", 200, True),
        ("job.failed", 200, True),
    ]


async def test_a_500_is_retried_with_backoff_and_every_attempt_logged(
    setup: Setup, receiver: Receiver
) -> None:
    admin = setup.api.admin
    await admin.set_channel("hook", type="webhook", url=receiver.url, team="alpha")
    await admin.set_rule("all", channel="hook", events=["preempted"], team="alpha")
    await setup.start()
    receiver.statuses = [500, 200]
    await _event(setup, "Service", "svc", "Preempted", warn=True)
    done = setup.notifier.ticks
    setup.clock.advance(await setup.clock.sleeping())  # the round begins and posts
    assert await setup.clock.sleeping() == 1.0  # the retry waits a second on the clock
    setup.clock.advance(1.0)
    await setup.notifier.wait_ticks(done + 1)
    assert len(receiver.requests) == 2
    assert "x-sapwood-signature" not in receiver.requests[0].headers  # no secret, no signature
    log = await admin.list_deliveries(team="alpha")
    assert [(d.attempt, d.status_code, d.ok, d.error) for d in log] == [
        (2, 200, True, None),
        (1, 500, False, "HTTP 500"),
    ]


async def test_gives_up_after_three_attempts_with_exponential_delays(
    setup: Setup, receiver: Receiver
) -> None:
    await setup.api.admin.set_channel("hook", type="webhook", url=receiver.url, team="alpha")
    receiver.statuses = [503, 502, 500]
    posting = asyncio.ensure_future(setup.api.admin.test_channel("hook", team="alpha"))
    waits = []
    for _ in range(2):
        waits.append(await setup.clock.sleeping())
        setup.clock.advance(waits[-1])
    delivery = await posting
    assert (delivery.attempt, delivery.status_code, delivery.ok) == (3, 500, False)
    assert waits == [1.0, 2.0]


async def test_unreachable_channel_logs_the_error_without_the_url(setup: Setup) -> None:
    url = "http://127.0.0.1:9/hook?token=very-private"
    await setup.api.admin.set_channel("dead", type="webhook", url=url, team="alpha")
    posting = asyncio.ensure_future(setup.api.admin.test_channel("dead", team="alpha"))
    for _ in range(2):  # refused connections are retried
        setup.clock.advance(await setup.clock.sleeping())
    delivery = await posting
    assert not delivery.ok
    assert delivery.status_code is None
    assert delivery.error
    assert "very-private" not in delivery.error


async def test_slack_payload_uses_blocks(setup: Setup, receiver: Receiver) -> None:
    admin = setup.api.admin
    await admin.set_channel("slack", type="slack", url=receiver.url, team="alpha")
    await admin.set_rule("ws", channel="slack", events=["workspace.paused"], team="alpha")
    await setup.start()
    await _event(setup, "Workspace", "notebook", "Paused")
    await setup.next_round()
    (request,) = receiver.requests
    payload = json.loads(request.body)
    assert "notebook" in payload["text"]
    header, section = payload["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert "workspace/notebook" in header["text"]["text"]
    assert section["type"] == "section"
    assert "Paused" in section["text"]["text"]
    assert "alpha" in section["text"]["text"]
    assert "x-sapwood-signature" not in request.headers


async def test_viewer_reads_but_cannot_write(setup: Setup) -> None:
    admin = setup.api.admin
    await admin.create_user("val", teams={"alpha": "viewer"})
    token = (await admin.create_token(user="val")).token
    await admin.set_channel(
        "hook", type="webhook", url="http://x.test/", secret=SECRET, team="alpha"
    )
    viewer = setup.api.client(token)
    try:
        assert [c.name for c in await viewer.list_channels()] == ["hook"]  # its only team
        with pytest.raises(SapwoodError) as denied:
            await viewer.set_channel("h2", type="webhook", url="http://x.test/")
        assert denied.value.status == 403
    finally:
        await viewer.aclose()
