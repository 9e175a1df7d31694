"""Workspace messages updated in place as their objects change: the updater loop on a fake
clock of its own, over the real store, against a Web client that answers from a script
(errors, Retry-After) and against the fake Slack with the app's own workspace card."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import Object
from sapwood.server.slack.message import Message, section
from sapwood.server.slack.updates import MessageUpdater, digest, track_message
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow, SlackMessageRow
from sapwood.testing.clock import FakeClock
from sapwood.testing.slack_fake import FakeMessage
from sapwood.testing.waiting import eventually
from tests.integration.slack.conftest import SlackWorld
from tests.support import Api, workspace

pytestmark = pytest.mark.anyio


def render(obj: Object | None, kind: str, team: str, name: str) -> Message:
    """A stand-in for the workspace card: what changes when the state does."""
    state = "deleted" if obj is None else str(obj.status.get("phase", "Pending"))
    return Message(text=f"{kind} {team}/{name} is {state}", blocks=[section(state)])


class ScriptedSlack(AsyncWebClient):
    """Records every Web API call with the fake time it came at; answers ok unless an
    error was queued for the next call."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(token="xoxb-test", base_url="http://slack.invalid/api/")
        self.clock = clock
        self.calls: list[dict[str, Any]] = []
        self.errors: list[tuple[str, dict[str, str]]] = []  # (error, headers), in order

    async def api_call(  # type: ignore[override]
        self, api_method: str, *, json: dict[str, Any] | None = None, **_: Any
    ) -> AsyncSlackResponse:
        self.calls.append({"method": api_method, "at": self.clock.monotonic(), **(json or {})})
        data: dict[str, Any] = {"ok": True}
        headers: dict[str, str] = {}
        if self.errors:
            error, headers = self.errors.pop(0)
            data = {"ok": False, "error": error}
        return AsyncSlackResponse(
            client=self,
            http_verb="POST",
            api_url=self.base_url + api_method,
            req_args={},
            data=data,
            headers=headers,
            status_code=429 if data.get("error") == "ratelimited" else 200,
        ).validate()

    def texts(self, ts: str) -> list[str]:
        return [c["text"] for c in self.calls if c["ts"] == ts]

    def times(self, *, channel: str) -> list[float]:
        return [c["at"] for c in self.calls if c["channel"] == channel]


@dataclass
class World:
    api: Api
    clock: FakeClock  # the updater's own: nothing else sleeps on it
    sessions: async_sessionmaker[AsyncSession]
    slack: ScriptedSlack
    updater: MessageUpdater
    posted: dict[str, str] = field(default_factory=dict)  # ts -> uid

    async def create(self, name: str, *, channel: str = "C1") -> str:
        """A workspace and its tracked message, as the front end leaves them; the ts."""
        (result,) = await self.api.admin.apply([workspace(name)])
        created = result.object
        ts = f"1700000000.{len(self.posted):06d}"
        async with self.sessions() as session:
            await track_message(
                session,
                uid=created.metadata.uid,
                kind="Workspace",
                team=created.metadata.team,
                name=name,
                channel=channel,
                ts=ts,
                shown=digest(render(created, "Workspace", created.metadata.team, name)),
                now=self.clock.now(),
            )
        self.posted[ts] = created.metadata.uid
        return ts

    async def set_phase(self, ts: str, phase: str) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(ObjectRow)
                .where(ObjectRow.uid == self.posted[ts])
                # Every status write moves the version, as the controller's writes do.
                .values(status={"phase": phase}, resource_version=ObjectRow.resource_version + 1)
            )
            await session.commit()

    async def step(self) -> None:
        """Moves the clock to the updater's next round and waits for it to finish."""
        done = self.updater.ticks + 1
        self.clock.advance(await self.clock.sleeping())
        await self.updater.wait_ticks(done)

    async def step_for(self, seconds: float) -> None:
        """Steps round after round until ``seconds`` of fake time have passed."""
        until = self.clock.monotonic() + seconds
        while self.clock.monotonic() < until:
            await self.step()

    async def tracked(self) -> list[SlackMessageRow]:
        async with self.sessions() as session:
            return list(await session.scalars(select(SlackMessageRow)))


@pytest.fixture
async def world(api: Api) -> AsyncIterator[World]:
    app: Any = api.transport.app
    sessions = app.state.sapwood.sessions
    clock = FakeClock()
    slack = ScriptedSlack(clock)
    updater = MessageUpdater(sessions, clock, slack, render)
    await updater.start()
    await updater.wait_ticks(1)
    try:
        yield World(api, clock, sessions, slack, updater)
    finally:
        await updater.stop()


async def test_a_message_is_updated_when_its_workspace_changes_state(world: World) -> None:
    ts = await world.create("notebook")
    await world.step()
    assert world.slack.calls == []  # it shows what it was posted with

    await world.set_phase(ts, "Running")
    await world.step()
    (call,) = world.slack.calls
    assert call["method"] == "chat.update"
    assert (call["channel"], call["ts"]) == ("C1", ts)
    assert call["text"] == "Workspace default/notebook is Running"
    assert call["blocks"] == [section("Running")]

    await world.step_for(3)
    assert len(world.slack.calls) == 1  # the stored digest stops repeats
    (row,) = await world.tracked()
    assert row.shown == digest(shown("notebook", "Running"))


async def test_a_deleted_workspace_is_shown_deleted_once_then_forgotten(world: World) -> None:
    ts = await world.create("notebook")
    await world.api.admin.delete("Workspace", "notebook")  # no controller: being deleted
    await world.step()

    assert world.slack.texts(ts) == ["Workspace default/notebook is deleted"]
    assert await world.tracked() == []
    await world.step_for(2)
    assert len(world.slack.calls) == 1


async def test_a_workspace_being_deleted_is_shown_deleted(world: World) -> None:
    ts = await world.create("notebook")
    async with world.sessions() as session:  # its unit still stopping: the row stays a while
        await session.execute(
            update(ObjectRow)
            .where(ObjectRow.uid == world.posted[ts])
            .values(deletion_timestamp=world.clock.now())
        )
        await session.commit()
    await world.step()

    assert world.slack.texts(ts) == ["Workspace default/notebook is deleted"]
    assert await world.tracked() == []


async def test_a_message_slack_no_longer_has_is_forgotten(world: World) -> None:
    ts = await world.create("notebook")
    world.slack.errors.append(("message_not_found", {}))
    await world.set_phase(ts, "Running")
    await world.step()

    assert len(world.slack.calls) == 1
    assert await world.tracked() == []
    await world.set_phase(ts, "Paused")
    await world.step_for(2)
    assert len(world.slack.calls) == 1


async def test_ratelimited_waits_for_retry_after_in_that_channel_only(world: World) -> None:
    limited = await world.create("limited", channel="C1")
    other = await world.create("other", channel="C2")
    world.slack.errors.append(("ratelimited", {"Retry-After": "5"}))
    await world.set_phase(limited, "Running")
    await world.step()
    (refused,) = world.slack.times(channel="C1")

    await world.set_phase(other, "Running")
    await world.step_for(7)
    assert world.slack.texts(other) == ["Workspace default/other is Running"]
    assert world.slack.texts(limited) == ["Workspace default/limited is Running"] * 2
    assert world.slack.times(channel="C1")[1] >= refused + 5
    assert world.slack.times(channel="C2")[0] < refused + 5  # C2 did not wait for C1
    row = {r.ts: r for r in await world.tracked()}[limited]
    assert row.shown == digest(shown("limited", "Running"))


async def test_a_failing_update_is_retried_and_the_loop_goes_on(world: World) -> None:
    ts = await world.create("notebook")
    world.slack.errors.append(("internal_error", {}))
    await world.set_phase(ts, "Running")
    await world.step_for(3)

    assert world.updater.running
    assert world.slack.texts(ts) == ["Workspace default/notebook is Running"] * 2
    (row,) = await world.tracked()
    assert row.shown == digest(shown("notebook", "Running"))


async def test_a_render_that_fails_for_one_message_leaves_the_others(world: World) -> None:
    broken = await world.create("broken", channel="C1")
    fine = await world.create("fine", channel="C2")

    def picky(obj: Object | None, kind: str, team: str, name: str) -> Message:
        if name == "broken":
            raise ValueError("cannot draw this one")
        return render(obj, kind, team, name)

    world.updater.render = picky
    await world.set_phase(broken, "Running")
    await world.set_phase(fine, "Running")
    await world.step_for(2)

    assert world.slack.texts(broken) == []
    assert world.slack.texts(fine) == ["Workspace default/fine is Running"]


async def test_changes_within_a_second_in_one_channel_coalesce(world: World) -> None:
    first = await world.create("first", channel="C1")
    second = await world.create("second", channel="C1")
    phases = ("Running", "Paused", "Running", "Failed")
    for phase in phases:
        await world.set_phase(first, phase)
        await world.set_phase(second, phase)
        await world.step()
    await world.step_for(4)

    times = world.slack.times(channel="C1")
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))  # Slack's pace
    assert len(times) < 2 * len(phases)  # coalesced: fewer updates than changes
    assert world.slack.texts(first)[-1] == "Workspace default/first is Failed"
    assert world.slack.texts(second)[-1] == "Workspace default/second is Failed"
    assert {r.shown for r in await world.tracked()} == {
        digest(shown("first", "Failed")),
        digest(shown("second", "Failed")),
    }


def shown(name: str, phase: str) -> Message:
    return Message(
        text=f"Workspace default/{name} is {phase}",
        blocks=[section(phase)],
    )


# Against the fake Slack, with the app's own client and workspace card (H3's render).

FORM = {"name": "nb", "cpu": "1", "memory": "2Gi", "gpu": "0", "ttl": "1d"}


@dataclass
class Posted:
    """Workspaces made through the env-create form; their messages in the fake Slack."""

    world: SlackWorld
    clock: FakeClock  # the updater's own
    updater: MessageUpdater
    messages: dict[str, FakeMessage] = field(default_factory=dict)  # workspace -> message

    async def create(self, name: str) -> FakeMessage:
        view = await self.world.open_form("U_ALICE")
        response = await self.world.submit("U_ALICE", view, {**FORM, "name": name})
        assert response.status_code == 200, response.text
        slack = self.world.slack
        message = await slack.wait_for(
            lambda: next((m for m in slack.messages if f"Workspace {name} " in m.text), None),
            what=f"the message of {name}",
        )
        await eventually(lambda: self._tracked(message.ts), what=f"{name} tracked")
        self.messages[name] = message
        return message

    async def _tracked(self, ts: str) -> bool:
        async with self.world.state.sessions() as session:
            return (
                await session.scalar(select(SlackMessageRow).where(SlackMessageRow.ts == ts))
                is not None
            )

    async def set_phase(self, name: str, phase: str) -> None:
        async with self.world.state.sessions() as session:
            await session.execute(
                update(ObjectRow)
                .where(ObjectRow.kind == "Workspace", ObjectRow.name == name)
                # Every status write moves the version, as the controller's writes do.
                .values(status={"phase": phase}, resource_version=ObjectRow.resource_version + 1)
            )
            await session.commit()

    def shown(self, name: str) -> FakeMessage:
        posted = self.messages[name]
        return self.world.slack.message(posted.channel, posted.ts)

    async def step(self) -> None:
        done = self.updater.ticks + 1
        self.clock.advance(await self.clock.sleeping())
        await self.updater.wait_ticks(done)

    async def step_for(self, seconds: float) -> None:
        """Steps round after round until ``seconds`` of fake time have passed."""
        until = self.clock.monotonic() + seconds
        while self.clock.monotonic() < until:
            await self.step()


@pytest.fixture
async def posted(slack_world: SlackWorld) -> AsyncIterator[Posted]:
    front: Any = slack_world.api.transport.app.state.slack  # type: ignore[attr-defined]
    clock = FakeClock()
    updater = MessageUpdater(slack_world.state.sessions, clock, front.client, front.render)
    await updater.start()
    await updater.wait_ticks(1)
    try:
        yield Posted(slack_world, clock, updater)
    finally:
        await updater.stop()


async def test_the_posted_card_follows_its_workspace_in_the_fake_slack(posted: Posted) -> None:
    message = await posted.create("nb")
    assert "Pending" in message.text
    await posted.step()
    assert len(posted.shown("nb").history) == 1  # nothing changed: nothing sent

    await posted.set_phase("nb", "Running")
    await posted.step()
    shown = posted.shown("nb")
    assert shown.text == "Workspace nb in team research: Running"
    assert "*Running*" in json.dumps(shown.blocks)
    assert len(shown.history) == 2

    await posted.set_phase("nb", "Paused")
    await posted.step_for(1.0)  # one update a second in a channel
    assert posted.shown("nb").text == "Workspace nb in team research: Paused"
    assert len(posted.world.slack.called("chat.update")) == 2


async def test_a_deleted_workspace_card_says_so_and_is_no_longer_tracked(posted: Posted) -> None:
    await posted.create("nb")
    await posted.world.api.admin.delete("Workspace", "nb", team="research")
    await posted.step()

    shown = posted.shown("nb")
    assert shown.text == "Workspace nb in team research was deleted"
    assert "actions" not in json.dumps(shown.blocks)  # no buttons left
    assert await posted.world.tracked() == 0
    await posted.step()
    assert len(posted.world.slack.called("chat.update")) == 1


async def test_many_changes_in_one_channel_are_coalesced_to_the_newest(posted: Posted) -> None:
    await posted.create("one")
    await posted.create("two")
    assert posted.messages["one"].channel == posted.messages["two"].channel
    phases = ["Running", "Paused", "Running", "Failed", "Paused", "Running"]
    for phase in phases:  # a change of both every half second or less
        await posted.set_phase("one", phase)
        await posted.set_phase("two", phase)
        await posted.step()
    for _ in range(3):
        await posted.step()

    updates = posted.world.slack.called("chat.update")
    assert len(updates) < 2 * len(phases)
    assert posted.shown("one").text == "Workspace one in team research: Running"
    assert posted.shown("two").text == "Workspace two in team research: Running"


async def test_only_messages_whose_object_changed_are_rendered_again(api: Api) -> None:
    """An idle set of tracked messages costs no rendering: cost follows changes."""
    app: Any = api.transport.app
    sessions = app.state.sapwood.sessions
    clock = FakeClock()
    slack = ScriptedSlack(clock)
    rendered: list[str] = []

    def counting(obj: Object | None, kind: str, team: str, name: str) -> Message:
        rendered.append(name)
        return render(obj, kind, team, name)

    updater = MessageUpdater(sessions, clock, slack, counting)
    await updater.start()
    await updater.wait_ticks(1)
    try:
        world = World(api, clock, sessions, slack, updater)
        first = await world.create("one")
        await world.create("two")
        await world.step()
        assert sorted(rendered) == ["one", "two"]  # a new message is rendered once

        rendered.clear()
        await world.step_for(3)
        assert rendered == []  # nothing changed: nothing rendered, nothing sent

        await world.set_phase(first, "Running")
        await world.step()
        assert rendered == ["one"]
        assert world.slack.texts(first) == ["Workspace default/one is Running"]
    finally:
        await updater.stop()
