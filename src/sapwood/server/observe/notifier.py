"""The notifier: reads new rows of the events table, matches the teams' rules, posts them;
and, every ``underuse_every_s``, reports the under-use episodes that began.

A loop on the injected clock (server/loop.py): a round every ``poll_s``, or at once while a
full batch of events waits. It keeps a cursor (``event_cursors``, name ``notifier``) so
every event is considered once; on its first start it begins at the newest event rather
than replaying history. Each attempt to post is a row of the delivery log; a failed attempt
is retried after a doubling wait, also on the clock. What is posted, and to whom, is pure
(observe/messages.py, observe/slack_alerts.py); where a post may go is checked at every
post (observe/destinations.py). The Slack app's channels post through its Web API
(observe/slack_posts.py) when the app is configured.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import Delivery, NotificationEvent, Reason
from sapwood.schemas.notifications import SLACK_APP_TYPES
from sapwood.server.clock import Clock
from sapwood.server.loop import Loop
from sapwood.server.observe.destinations import (
    RefusedAddressError,
    Resolve,
    destination,
    resolve_host,
)
from sapwood.server.observe.messages import (
    Notification,
    Shrink,
    Target,
    classify,
    host_of,
    match,
    request_for,
    retry_delay_s,
    retryable,
    scrub,
)
from sapwood.server.observe.slack_posts import NOT_CONFIGURED, SlackPoster
from sapwood.server.observe.underuse import Underuse, UnderuseWatch
from sapwood.server.services.notifications import row_to_delivery, rule_params
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import (
    ChannelRow,
    CursorRow,
    DeliveryRow,
    EventRow,
    ObjectRow,
    RuleRow,
)
from sapwood.server.webhook_addresses import AddressPolicy

log = logging.getLogger("sapwood.notifier")

CURSOR = "notifier"


class Notifier(Loop):
    """Delivers notifications; the app starts it beside the controller."""

    name = "notifier"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        attempts: int = 3,
        base_delay_s: float = 1.0,
        poll_s: float = 2.0,
        underuse_every_s: float = 60.0,
        sample_interval_s: float = 15.0,
        timeout_s: float = 10.0,
        batch: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: AddressPolicy | None = None,
        resolve: Resolve = resolve_host,
        slack: AsyncWebClient | None = None,
    ) -> None:
        """``slack``: the Slack app's Web API client (observe/slack_posts.web_client), or
        None when the app is not configured: its channels' posts then fail, saying so."""
        super().__init__(clock=clock, interval_s=poll_s)
        self.sessions = sessions
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.underuse_every_s = underuse_every_s
        self._underuse = UnderuseWatch(timedelta(seconds=sample_interval_s))
        self._next_underuse = 0.0  # on the monotonic clock: the first round checks
        self.timeout_s = timeout_s
        self.batch = batch
        self.transport = transport
        self.policy = policy or AddressPolicy()
        self.resolve = resolve
        self.slack = (
            SlackPoster(
                slack,
                sessions,
                clock,
                record=self._record,
                attempts=attempts,
                base_delay_s=base_delay_s,
            )
            if slack is not None
            else None
        )

    async def start(self) -> None:
        await self._ensure_cursor()
        await super().start()

    async def tick(self) -> float | None:
        """Events past the cursor, then under-use when a check is due; at once again while
        a full batch of events came."""
        considered = await self._notify_events()
        if self.clock.monotonic() >= self._next_underuse:
            self._next_underuse = self.clock.monotonic() + self.underuse_every_s
            await self._notify_underuse()
        return 0.0 if considered >= self.batch else None

    async def _notify_underuse(self) -> None:
        """Reports under-use episodes that began since the last check: an event on the
        object and a notification to the channel of the rule that found it."""
        now = self.clock.now()
        async with self.sessions() as session:
            rules = list(await session.scalars(select(RuleRow)))
            params = {(r.team, r.name): rule_params(r) for r in rules}
            findings = await self._underuse.check(session, now=now, rule_params=params)
            channels = {
                (c.team, c.name): Target.of(c) for c in await session.scalars(select(ChannelRow))
            }
            notes = []
            for finding in findings:
                obj, underuse = finding.obj, finding.underuse
                message = f"{underuse.resource.upper()} {underuse.message}"
                session.add(
                    EventRow(
                        uid=obj.uid,
                        kind=obj.kind,
                        team=obj.team,
                        name=obj.name,
                        type="Normal",
                        reason=Reason.UNDERUTILISED,
                        message=message,
                        created_at=now,
                    )
                )
                note = Notification(
                    event=NotificationEvent.UNDERUTILISED.value,
                    kind=obj.kind,
                    team=obj.team,
                    name=obj.name,
                    reason=Reason.UNDERUTILISED,
                    message=message,
                    time=now,
                    uid=obj.uid,
                    owner=obj.owner,
                    shrink=shrink_of(underuse, generation=obj.generation),
                )
                target = channels.get((finding.rule.team, finding.rule.channel))
                notes.append((note, target))
            await session.commit()
        for note, target in notes:
            if target is not None:
                await self.deliver(target, note)

    async def _ensure_cursor(self) -> int:
        """The cursor, created at the newest event if there is none yet."""
        async with self.sessions() as session:
            row = await session.get(CursorRow, CURSOR)
            if row is not None:
                return row.last_event_id
            newest = await session.scalar(select(func.max(EventRow.id)))
            session.add(
                CursorRow(name=CURSOR, last_event_id=newest or 0, updated_at=self.clock.now())
            )
            await session.commit()
            return newest or 0

    async def _notify_events(self) -> int:
        """The events past the cursor (a batch at most); returns how many were considered."""
        cursor = await self._ensure_cursor()
        async with self.sessions() as session:
            query = (
                select(EventRow).where(EventRow.id > cursor).order_by(EventRow.id).limit(self.batch)
            )
            events = list(await session.scalars(query))
            if not events:
                return 0
            teams = {e.team for e in events}
            rules = list(await session.scalars(select(RuleRow).where(RuleRow.team.in_(teams))))
            channels = {
                (c.team, c.name): Target.of(c)
                for c in await session.scalars(select(ChannelRow).where(ChannelRow.team.in_(teams)))
            }
            uids = {e.uid for e in events}
            labels: dict[str, dict[str, str]] = {}
            owners: dict[str, str | None] = {}
            for uid, lbl, owner in await session.execute(
                select(ObjectRow.uid, ObjectRow.labels, ObjectRow.owner).where(
                    ObjectRow.uid.in_(uids)
                )
            ):
                labels[uid], owners[uid] = dict(lbl), owner
        for event in events:
            kind = classify(event.kind, event.type, event.reason)
            if kind is not None:
                note = Notification(
                    event=kind.value,
                    kind=event.kind,
                    team=event.team,
                    name=event.name,
                    reason=event.reason,
                    message=event.message,
                    time=event.created_at,
                    uid=event.uid,
                    owner=owners.get(event.uid),
                )
                targets = match(rules, channels, note, labels.get(event.uid, {}))
                if targets:
                    await asyncio.gather(*(self.deliver(t, note) for t in targets))
                    await self._advance(event.id)  # posted: never posted again after a crash
        await self._advance(events[-1].id)  # the rest had nobody to tell: once per batch
        return len(events)

    async def _advance(self, event_id: int) -> None:
        async with self.sessions() as session:
            row = await session.get(CursorRow, CURSOR)
            if row is None:
                session.add(CursorRow(name=CURSOR, last_event_id=event_id))
            elif row.last_event_id < event_id:
                row.last_event_id = event_id
            if row is not None:
                row.updated_at = self.clock.now()
            await session.commit()

    # posting

    async def deliver(self, target: Target, note: Notification) -> Delivery:
        """Posts with retries (a doubling wait on the clock); every attempt goes in the log."""
        if target.type in SLACK_APP_TYPES:
            if self.slack is None:
                return await self._record(target, note, 1, None, False, NOT_CONFIGURED)
            return await self.slack.deliver(target, note)
        return await self._deliver_webhook(target, note)

    async def _deliver_webhook(self, target: Target, note: Notification) -> Delivery:
        body, headers = request_for(target, note)
        last: Delivery | None = None
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as http:
            for attempt in range(1, self.attempts + 1):
                status: int | None = None
                error: str | None = None
                refused = False
                try:
                    to = await destination(target.url, self.policy, self.resolve)
                    response = await http.post(
                        to.url,
                        content=body,
                        headers={**headers, **to.headers},
                        extensions=to.extensions,
                    )
                    status = response.status_code
                    if not response.is_success:
                        error = f"HTTP {status}"
                except RefusedAddressError as exc:
                    error, refused = scrub(f"refused: {exc}", target), True
                except OSError as exc:  # the name did not resolve
                    error = scrub(f"cannot resolve the channel's host: {exc}", target)
                except httpx.HTTPError as exc:
                    error = scrub(f"{type(exc).__name__}: {exc}", target)
                ok = error is None
                last = await self._record(target, note, attempt, status, ok, error)
                log.info(
                    "notify %s %s/%s -> channel %s/%s (%s) attempt %d: %s",
                    note.event,
                    note.kind.lower(),
                    note.name,
                    target.team,
                    target.name,
                    host_of(target.url),
                    attempt,
                    status if ok else error,
                )
                if ok or refused or not retryable(status) or attempt == self.attempts:
                    break
                await self.clock.sleep(retry_delay_s(attempt, base_s=self.base_delay_s))
        assert last is not None
        return last

    async def _record(
        self,
        target: Target,
        note: Notification,
        attempt: int,
        status: int | None,
        ok: bool,
        error: str | None,
    ) -> Delivery:
        row = DeliveryRow(
            team=target.team,
            channel=target.name,
            event=note.event,
            kind=note.kind,
            name=note.name,
            reason=note.reason,
            attempt=attempt,
            status_code=status,
            ok=ok,
            error=error,
            time=self.clock.now(),
        )
        async with self.sessions() as session:
            session.add(row)
            await session.commit()
            return row_to_delivery(row)


def shrink_of(underuse: Underuse, *, generation: int | None = None) -> Shrink:
    """The request per replica an under-use finding suggests, in a spec's units, for the
    spec of ``generation``."""
    if underuse.resource == "cpu":
        return Shrink(cpu_millis=round(underuse.suggested * 1000), generation=generation)
    return Shrink(gpus=round(underuse.suggested), generation=generation)
