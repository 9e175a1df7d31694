"""Slack messages kept in step with their objects: the tracked-message table and the loop
that updates them in place.

A message the app posted about an object (a workspace's card) is tracked as a
``SlackMessageRow`` with a digest of what it shows. The leader's ``MessageUpdater`` renders
a tracked message afresh when its object's resourceVersion moved (or it still waits to be
sent) and sends ``chat.update`` for those whose digest differs, paced per channel
(pacing.py): one update a second per channel, the newest state only, the longest-waiting
message first. A message whose object is gone (or being deleted) is shown as deleted once
and then forgotten. Cost follows changes: a round
reads the tracked rows with their objects' versions (no object bodies), then loads and
renders only the objects that changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import Object
from sapwood.server.clock import Clock
from sapwood.server.loop import Loop
from sapwood.server.services.convert import row_to_object
from sapwood.server.slack.message import Message
from sapwood.server.slack.pacing import Pacer, Waiting, retry_after_s
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow, SlackMessageRow

log = logging.getLogger("sapwood.slack.updates")

# (obj, kind, team, name) -> the message; obj None: the object is gone.
Render = Callable[[Object | None, str, str, str], Message]

# Slack errors after which the message can never be updated: its row is dropped.
GONE_ERRORS = frozenset(
    {
        "channel_not_found",
        "message_not_found",
        "is_archived",
        "cant_update_message",
        "edit_window_closed",
    }
)
MAX_HOLD_S = 300.0  # the longest a message waits after failed updates
GONE: Final = -1  # the version of an object that is gone or being deleted
CONCURRENT_UPDATES = 8  # chat.update calls in flight at once (different channels)


def digest(message: Message) -> str:
    """A sha256 of the message's text and blocks: equal when Slack would show the same."""
    body = json.dumps(
        {"text": message.text, "blocks": message.blocks},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def track_message(
    session: AsyncSession,
    *,
    uid: str,
    kind: str,
    team: str,
    name: str,
    channel: str,
    ts: str,
    shown: str,
    now: datetime,
) -> None:
    """Keeps the message at (``channel``, ``ts``) in step with the object ``uid``;
    ``shown`` is the digest of what was posted. Idempotent on (channel, ts): tracking a
    message again replaces what is kept about it. Commits."""
    row = await session.scalar(
        select(SlackMessageRow).where(SlackMessageRow.channel == channel, SlackMessageRow.ts == ts)
    )
    if row is None:
        row = SlackMessageRow(channel=channel, ts=ts, created_at=now)
        session.add(row)
    row.uid, row.kind, row.team, row.name = uid, kind, team, name
    row.shown, row.updated_at = shown, now
    await session.commit()


class Outcome(Enum):
    SENT = "sent"
    GONE = "gone"  # the message or its channel is gone: stop tracking it
    RATELIMITED = "ratelimited"
    FAILED = "failed"


def outcome_of(error: str) -> Outcome:
    """What a Slack error code means for a tracked message."""
    if error in GONE_ERRORS:
        return Outcome.GONE
    if error == "ratelimited":
        return Outcome.RATELIMITED
    return Outcome.FAILED


def hold_s(failures: int) -> float:
    """How long a message waits after ``failures`` failed updates in a row: doubling from
    one second, capped."""
    return min(MAX_HOLD_S, 2.0 ** max(0, failures - 1))


@dataclass(frozen=True)
class Tracked:
    """A tracked message, read with its object (None: gone or being deleted)."""

    id: int
    kind: str
    team: str
    name: str
    channel: str
    ts: str
    shown: str
    obj: Object | None
    version: int  # the object's resourceVersion when read; GONE


@dataclass(frozen=True)
class Pending:
    """A tracked message whose object now renders differently from what it shows."""

    tracked: Tracked
    message: Message
    digest: str


class MessageUpdater(Loop):
    """Updates tracked messages in place; leader-only (one replica sends the updates)."""

    name = "slack-updates"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        client: AsyncWebClient,
        render: Render,
        *,
        interval_s: float = 0.25,
    ) -> None:
        super().__init__(clock=clock, interval_s=interval_s)
        self.sessions = sessions
        self.client = client
        self.render = render
        self.pacer = Pacer()
        self._since: dict[int, float] = {}  # message id -> when it fell behind
        self._failures: dict[int, int] = {}  # message id -> failed updates in a row
        self._not_before: dict[int, float] = {}  # message id -> held until (after failures)
        self._unrenderable: set[int] = set()  # messages whose render failed (logged once)
        self._rendered: dict[int, int] = {}  # message id -> object version last rendered
        self._sending = asyncio.Semaphore(CONCURRENT_UPDATES)

    async def tick(self) -> float | None:
        """Renders the tracked messages whose object changed (or that still wait), sends
        the updates that are due, stores what each now shows; returns sooner than the
        interval when a paced update falls due first."""
        now = self.clock.monotonic()
        pending: dict[int, Pending] = {}
        settled: list[int] = []  # deleted objects whose message already says so
        for tracked in await self._load():
            try:
                message = self.render(tracked.obj, tracked.kind, tracked.team, tracked.name)
            except Exception:  # one bad object never stops the others
                if tracked.id not in self._unrenderable:  # said once, not every round
                    log.exception("rendering the Slack message of %s failed", _label(tracked))
                self._unrenderable.add(tracked.id)
                continue
            self._unrenderable.discard(tracked.id)
            self._rendered[tracked.id] = tracked.version
            shown = digest(message)
            if shown != tracked.shown:
                pending[tracked.id] = Pending(tracked, message, shown)
            elif tracked.obj is None:
                settled.append(tracked.id)
        self._keep_only(pending)
        waiting = [
            Waiting(
                key=p.tracked.id,
                channel=p.tracked.channel,
                since=self._since.setdefault(p.tracked.id, now),
                not_before=self._not_before.get(p.tracked.id, 0.0),
            )
            for p in pending.values()
        ]
        due = [pending[w.key] for w in self.pacer.due(waiting, now=now)]
        outcomes = await asyncio.gather(*(self._send(p, now=now) for p in due))
        results = list(zip(due, outcomes, strict=True))
        await self._apply(results, settled)
        self.pacer.forget(now=now)
        done = {p.tracked.id for p, outcome in results if outcome in (Outcome.SENT, Outcome.GONE)}
        later = self.clock.monotonic()
        soonest = self.pacer.next_at([w for w in waiting if w.key not in done], now=later)
        return None if soonest is None else min(self.interval_s, soonest - later)

    async def _load(self) -> list[Tracked]:
        """The tracked messages to render this round: those whose object's version moved
        since it was last rendered (all of them on a new leader), those still waiting to
        be sent, and those whose render failed. Object bodies are read for these only."""
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        SlackMessageRow, ObjectRow.resource_version, ObjectRow.deletion_timestamp
                    )
                    .outerjoin(ObjectRow, ObjectRow.uid == SlackMessageRow.uid)
                    .order_by(SlackMessageRow.id)
                )
            ).all()
            current = {
                message.id: GONE if version is None or deleted is not None else int(version)
                for message, version, deleted in rows
            }
            for gone in [key for key in self._rendered if key not in current]:
                del self._rendered[gone]
            stale = [
                message
                for message, _, _ in rows
                if self._rendered.get(message.id) != current[message.id]
                or message.id in self._since
                or message.id in self._unrenderable
            ]
            uids = {m.uid for m in stale if current[m.id] != GONE}
            bodies = (
                {
                    row.uid: row
                    for row in await session.scalars(
                        select(ObjectRow).where(ObjectRow.uid.in_(uids))
                    )
                }
                if uids
                else {}
            )
        out = []
        for message in stale:
            body = bodies.get(message.uid)
            alive = body is not None and body.deletion_timestamp is None
            out.append(
                Tracked(
                    id=message.id,
                    kind=message.kind,
                    team=message.team,
                    name=message.name,
                    channel=message.channel,
                    ts=message.ts,
                    shown=message.shown,
                    obj=row_to_object(body) if alive and body is not None else None,
                    version=body.resource_version if alive and body is not None else GONE,
                )
            )
        return out

    def _keep_only(self, pending: dict[int, Pending]) -> None:
        """Forgets waits and failures of messages that no longer wait (caught up or gone)."""
        for table in (self._since, self._failures, self._not_before):
            for key in [k for k in table if k not in pending]:
                del table[key]

    async def _send(self, pending: Pending, *, now: float) -> Outcome:
        tracked = pending.tracked
        self.pacer.sent(tracked.channel, now=now)
        try:
            async with self._sending:
                await self.client.chat_update(
                    channel=tracked.channel,
                    ts=tracked.ts,
                    text=pending.message.text,
                    blocks=pending.message.blocks,
                )
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            outcome = outcome_of(error)
            if outcome is Outcome.RATELIMITED:
                headers = getattr(exc.response, "headers", None)
                wait_s = retry_after_s(headers)
                self.pacer.ratelimited(tracked.channel, now=now, retry_after_s=wait_s)
                log.info("Slack asked to wait %.0f s before updating %s", wait_s, tracked.channel)
            elif outcome is Outcome.GONE:
                log.info("the Slack message of %s is gone (%s)", _label(tracked), error)
            else:
                self._hold(tracked.id, now=now, why=error)
            return outcome
        except Exception as exc:  # network, timeouts: the next round tries again
            self._hold(tracked.id, now=now, why=type(exc).__name__)
            return Outcome.FAILED
        return Outcome.SENT

    def _hold(self, key: int, *, now: float, why: str) -> None:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        self._not_before[key] = now + hold_s(failures)
        log.warning("updating Slack message %s failed (%s, %d in a row)", key, why, failures)

    async def _apply(self, results: list[tuple[Pending, Outcome]], settled: list[int]) -> None:
        """Stores what each sent message shows; drops the rows of deleted objects once
        their message says so, and of messages Slack no longer has."""
        drop = list(settled)
        shown: list[Pending] = []
        for pending, outcome in results:
            gone = pending.tracked.obj is None
            if outcome is Outcome.GONE or (outcome is Outcome.SENT and gone):
                drop.append(pending.tracked.id)
            elif outcome is Outcome.SENT:
                shown.append(pending)
        if not drop and not shown:
            return
        now = self.clock.now()
        async with self.sessions() as session:
            for pending in shown:
                await session.execute(
                    update(SlackMessageRow)
                    .where(SlackMessageRow.id == pending.tracked.id)
                    .values(shown=pending.digest, updated_at=now)
                )
            if drop:
                await session.execute(delete(SlackMessageRow).where(SlackMessageRow.id.in_(drop)))
            await session.commit()
        for pending in shown:
            self._since.pop(pending.tracked.id, None)


def _label(tracked: Tracked) -> str:
    return f"{tracked.kind} {tracked.team}/{tracked.name}"
