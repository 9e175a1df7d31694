"""What the fake Slack remembers: calls, messages, views, files, triggers; one lock guards all.

The server thread writes these and the test's thread reads them, so every change happens
under ``World.lock``; a reader gets plain dataclasses it may inspect at leisure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sapwood.testing.slack_fake_payloads import Team

#: The first message ts; later ones count up from it, so runs are deterministic.
TS_BASE = 1_700_000_000


@dataclass
class FakeCall:
    """One Web API call: the method, its arguments, and which token it carried.

    ``auth`` is ``"bot"``, ``"app"``, ``"invalid"`` or ``"none"`` (never the token itself).
    """

    method: str
    args: dict[str, Any]
    auth: str


@dataclass
class FakeMessage:
    """A message the app posted. ``history`` holds every version shown, oldest first."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    def as_slack(self, team: Team) -> dict[str, Any]:
        """The message as Slack shows it in an interaction payload."""
        return {
            "type": "message",
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "user": team.bot_user,
            "bot_id": team.bot_id,
        }


@dataclass
class FakeView:
    """A view the app opened (or pushed): the latest view dict as Slack returns it.

    ``user`` is whose screen it is on (the user of the trigger that opened it);
    ``history`` every version shown, oldest first.
    """

    id: str
    view: dict[str, Any]
    user: str
    trigger: str
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeFile:
    """A file uploaded with files.getUploadURLExternal, the upload URL, and completion."""

    id: str
    filename: str
    title: str | None = None
    content: bytes = b""
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class FakeEphemeral:
    channel: str
    user: str
    text: str
    blocks: list[Any]


@dataclass
class Trigger:
    id: str
    user: str
    minted_s: float
    exchanged: bool = False


@dataclass
class ResponseTarget:
    """Where a response_url points: the message an interaction came from, if any."""

    channel: str | None
    ts: str | None


@dataclass
class Failure:
    error: str
    retry_after_s: int | None


class World:
    """The fake Slack's state. Counters make every id deterministic."""

    def __init__(self, team: Team, *, trigger_ttl_s: float, clock: Callable[[], float]) -> None:
        self.team = team
        self.trigger_ttl_s = trigger_ttl_s
        self.clock = clock
        self.lock = threading.RLock()
        self.http_url = ""
        self.socket_url = ""
        self.calls: list[FakeCall] = []
        self.messages: list[FakeMessage] = []
        self.views: dict[str, FakeView] = {}
        self.files: list[FakeFile] = []
        self.ephemerals: list[FakeEphemeral] = []
        self.responses: list[dict[str, Any]] = []
        self.triggers: dict[str, Trigger] = {}
        self.response_targets: dict[str, ResponseTarget] = {}
        self.tickets: set[str] = set()
        self.failures: dict[str, list[Failure]] = {}
        self._counters: dict[str, int] = {}

    def next(self, kind: str) -> int:
        with self.lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            return self._counters[kind]

    def next_ts(self) -> str:
        return f"{TS_BASE}.{self.next('ts'):06d}"

    def mint_trigger(self, user: str) -> str:
        """A trigger id for an interaction of ``user``, valid ``trigger_ttl_s`` from now."""
        n = self.next("trigger")
        trigger = Trigger(id=f"{n}.{TS_BASE}.fake{n:08x}", user=user, minted_s=self.clock())
        with self.lock:
            self.triggers[trigger.id] = trigger
        return trigger.id

    def mint_response_url(self, *, channel: str | None, ts: str | None) -> str:
        response_id = f"R{self.next('response'):04d}"
        with self.lock:
            self.response_targets[response_id] = ResponseTarget(channel=channel, ts=ts)
        return f"{self.http_url}/respond/{response_id}"

    def message(self, channel: str, ts: str) -> FakeMessage | None:
        with self.lock:
            for message in self.messages:
                if message.channel == channel and message.ts == ts:
                    return message
        return None

    def take_failure(self, method: str) -> Failure | None:
        with self.lock:
            queued = self.failures.get(method)
            return queued.pop(0) if queued else None
