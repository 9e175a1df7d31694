"""What the Slack notification tests share: an app and notifier wired to a fake Slack,
users linked to Slack users, running workloads and their utilisation samples."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import update

from sapwood.client import AsyncClient
from sapwood.server.observe.notifier import Notifier
from sapwood.server.settings import Settings, SlackSettings
from sapwood.server.state import AppState
from sapwood.server.store.tables import MetricRow, ObjectRow, SlackLinkRow
from sapwood.testing.clock import FakeClock
from sapwood.testing.slack_fake import FakeEphemeral, FakeMessage, FakeSlack
from tests.support import Api

TEAM = "alpha"


def slack_settings(settings: Settings, slack: FakeSlack) -> Settings:
    """``settings`` with the Slack app configured against the fake (HTTP mode)."""
    configured = SlackSettings(
        signing_secret=SecretStr(slack.signing_secret),
        bot_token=SecretStr(slack.bot_token),
        api_url=slack.api_url,
    )
    return settings.model_copy(update={"slack": configured})


@dataclass
class SlackSetup:
    """An app with the Slack app configured, its notifier (not started until ``start``),
    and the users alice (member of alpha, linked to U_ALICE unless asked otherwise), bob
    (member, not linked) and val (viewer, linked to U_VAL)."""

    api: Api
    slack: FakeSlack
    clock: FakeClock
    notifier: Notifier
    tokens: dict[str, str]

    @property
    def state(self) -> AppState:
        app: Any = self.api.transport.app
        state: AppState = app.state.sapwood
        return state

    def client(self, user: str) -> AsyncClient:
        return self.api.client(self.tokens[user], team=TEAM)

    async def start(self) -> None:
        """Starts the notifier: its first round checks under-use at once."""
        await self.notifier.start()
        await self.notifier.wait_ticks(1)

    async def next_round(self, seconds: float | None = None) -> None:
        """Moves the clock to the notifier's next round (or ``seconds`` on) and waits for it."""
        done = self.notifier.ticks
        self.clock.advance(seconds if seconds is not None else await self.clock.sleeping())
        await self.notifier.wait_ticks(done + 1)

    async def link(self, user: str, slack_user: str, *, slack_team: str | None = None) -> None:
        """Links ``slack_user`` (of the fake's Slack workspace, or ``slack_team``) to ``user``."""
        async with self.state.sessions() as session:
            session.add(
                SlackLinkRow(
                    slack_team=slack_team or self.slack.team_id,
                    slack_user=slack_user,
                    user=user,
                    linked_at=self.clock.now(),
                )
            )
            await session.commit()

    async def put_channel(self, name: str, body: dict[str, Any]) -> None:
        async with self.api.http(self.api.admin_token) as http:
            response = await http.put(f"/api/v1/teams/{TEAM}/channels/{name}", json=body)
        assert response.status_code == 200, response.text

    async def run(self, kind: str, name: str, *, phase: str = "Running") -> str:
        """Marks an object as the controller would once it runs (or ends); returns its uid."""
        async with self.state.sessions() as session:
            await session.execute(
                update(ObjectRow)
                .where(ObjectRow.kind == kind, ObjectRow.team == TEAM, ObjectRow.name == name)
                .values(status={"phase": phase})
            )
            await session.commit()
        obj = await self.api.admin.get(kind, name, team=TEAM)
        return obj.metadata.uid

    async def samples(
        self,
        uid: str,
        kind: str,
        name: str,
        *,
        used_percent: float,
        requested_percent: float,
        since: timedelta,
        until: datetime | None = None,
        resource: str = "cpu",
        every: timedelta = timedelta(seconds=15),
    ) -> None:
        """Utilisation samples over ``since`` up to ``until`` (now unless given), as the
        monitor writes them."""
        now: datetime = until or self.clock.now()
        at = now - since
        async with self.state.sessions() as session:
            while at <= now:
                for metric, value in (
                    (f"sapwood.{resource}_percent", used_percent),
                    (f"sapwood.{resource}_requested_percent", requested_percent),
                ):
                    session.add(
                        MetricRow(
                            uid=uid,
                            kind=kind,
                            team=TEAM,
                            name=name,
                            metric=metric,
                            value=value,
                            time=at,
                        )
                    )
                at += every
            await session.commit()

    def messages_in(self, channel: str) -> list[FakeMessage]:
        return [m for m in self.slack.messages if m.channel == channel]


def buttons(message: FakeMessage) -> dict[str, dict[str, Any]]:
    """The message's buttons by action id, each with its value parsed."""
    found = {}
    for block in message.blocks:
        for element in block.get("elements", ()):
            if element.get("type") == "button":
                found[element["action_id"]] = {
                    "text": element["text"]["text"],
                    "value": json.loads(element["value"]),
                }
    return found


def shown_text(message: FakeMessage | FakeEphemeral) -> str:
    """Every text the message shows, blocks included, as one string."""
    parts = [message.text]
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
        for element in block.get("elements", ()):
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)
