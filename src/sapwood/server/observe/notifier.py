"""The notifier: reads new rows of the events table, matches the teams' rules, posts them.

It keeps a cursor (``event_cursors``, name ``notifier``) so every event is considered once;
on its first start it begins at the newest event rather than replaying history. Each
attempt to post is a row of the delivery log. Secrets and URL paths/queries never reach
the log: a channel is named by team, name and host only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import ChannelType, Delivery, NotificationEvent
from sapwood.server.clock import Clock
from sapwood.server.observe.underuse import UnderuseWatch
from sapwood.server.services.notifications import row_to_delivery, rule_params
from sapwood.server.services.webhook_addresses import (
    AddressPolicy,
    IPAddress,
    literal_address,
    resolved_refusal,
)
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import (
    ChannelRow,
    CursorRow,
    DeliveryRow,
    EventRow,
    ObjectRow,
    RuleRow,
)
from sapwood.specs.selectors import matches, parse_selector

log = logging.getLogger("sapwood.notifier")

CURSOR = "notifier"
# Warnings on a Job that do not end it: it retries, waits, or is queued again.
JOB_NOT_FINAL = frozenset({"BackOff", "OOMKilled", "StartDelayed", "Preempted"})
UNHEALTHY = frozenset({"ProbeFailed", "NotReady"})

Sleep = Callable[[float], Awaitable[None]]
Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]
"""The addresses a host name resolves to (for a port); OSError when it does not."""


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 address may carry a zone ("fe80::1%eth0"): the address is what is judged.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class RefusedAddressError(Exception):
    """The channel's host is, or resolves to, an address channels may not post to."""


@dataclass(frozen=True)
class Destination:
    """Where one post goes: the URL with the host replaced by the address that was checked
    (so a second lookup cannot swap it), and the Host and TLS name of the original."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


def classify(kind: str, type: str, reason: str) -> NotificationEvent | None:
    """The notification an event (as the controller writes it) stands for, if any."""
    if reason == "Preempted":
        return NotificationEvent.PREEMPTED
    if kind == "Job":
        if reason == "Succeeded":
            return NotificationEvent.JOB_SUCCEEDED
        if type == "Warning" and reason not in JOB_NOT_FINAL:
            return NotificationEvent.JOB_FAILED
    if kind == "Service" and reason in UNHEALTHY:
        return NotificationEvent.SERVICE_UNHEALTHY
    if kind == "Workspace" and reason == "Paused":
        return NotificationEvent.WORKSPACE_PAUSED
    if reason == "IdlePaused":
        return NotificationEvent.IDLE_PAUSED
    return None


@dataclass(frozen=True)
class Notification:
    event: str
    kind: str
    team: str
    name: str
    reason: str
    message: str
    time: datetime


@dataclass(frozen=True)
class Target:
    """What posting needs of a channel, read out of the session."""

    team: str
    name: str
    type: str
    url: str
    secret: str | None

    @classmethod
    def of(cls, row: ChannelRow) -> Target:
        return cls(row.team, row.name, row.type, row.url, row.secret)


def webhook_body(note: Notification) -> dict[str, Any]:
    return {
        "event": note.event,
        "kind": note.kind,
        "team": note.team,
        "name": note.name,
        "reason": note.reason,
        "message": note.message,
        "time": note.time.isoformat(),
    }


def slack_body(note: Notification) -> dict[str, Any]:
    """An incoming-webhook message in Slack's block format, with a plain-text fallback."""
    title = f"{note.kind.lower()}/{note.name}: {note.event}"
    detail = (
        f"*Reason:* {note.reason}\n*Message:* {note.message or '-'}\n"
        f"*Team:* {note.team}\n*Time:* {note.time.isoformat()}"
    )
    return {
        "text": f"{title} ({note.reason}) in team {note.team}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": detail[:3000]}},
        ],
    }


def sign(secret: str, body: bytes) -> str:
    """The ``X-Sapwood-Signature`` value: ``sha256=`` and the hex HMAC of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_for(target: Target, note: Notification) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "User-Agent": "sapwood-notifier"}
    if target.type == ChannelType.SLACK.value:
        body = json.dumps(slack_body(note)).encode()
    else:
        body = json.dumps(webhook_body(note)).encode()
        headers["X-Sapwood-Event"] = note.event
        if target.secret:
            headers["X-Sapwood-Signature"] = sign(target.secret, body)
    return body, headers


def host_of(url: str) -> str:
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"


def _scrub(text: str, target: Target) -> str:
    for secret in (target.url, target.secret):
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class Notifier:
    """Delivers notifications; ``sleep`` and the delays are injectable so tests run fast."""

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
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: AddressPolicy | None = None,
        resolve: Resolve = resolve_host,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.poll_s = poll_s
        self.underuse_every_s = underuse_every_s
        self._underuse = UnderuseWatch(timedelta(seconds=sample_interval_s))
        self.timeout_s = timeout_s
        self.batch = batch
        self.sleep = sleep
        self.transport = transport
        self.policy = policy or AddressPolicy()
        self.resolve = resolve
        self._task: asyncio.Task[None] | None = None

    # the loop

    async def start(self) -> None:
        await self.ensure_cursor()
        self._task = asyncio.create_task(self._loop(), name="sapwood-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        next_underuse = 0.0
        while True:
            try:
                await self.run_once()
                if self.clock.monotonic() >= next_underuse:
                    next_underuse = self.clock.monotonic() + self.underuse_every_s
                    await self.check_underuse()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier pass failed; retrying in %.0fs", self.poll_s)
            await asyncio.sleep(self.poll_s)

    async def check_underuse(self) -> list[Notification]:
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
                        reason="Underutilised",
                        message=message,
                        created_at=now,
                    )
                )
                note = Notification(
                    event=NotificationEvent.UNDERUTILISED.value,
                    kind=obj.kind,
                    team=obj.team,
                    name=obj.name,
                    reason="Underutilised",
                    message=message,
                    time=now,
                )
                target = channels.get((finding.rule.team, finding.rule.channel))
                notes.append((note, target))
            await session.commit()
        for note, target in notes:
            if target is not None:
                await self.deliver(target, note)
        return [note for note, _ in notes]

    async def ensure_cursor(self) -> int:
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

    async def run_once(self) -> int:
        """One pass over the events past the cursor; returns how many were considered."""
        cursor = await self.ensure_cursor()
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
            labels = {
                uid: dict(lbl)
                for uid, lbl in await session.execute(
                    select(ObjectRow.uid, ObjectRow.labels).where(ObjectRow.uid.in_(uids))
                )
            }
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
                )
                targets = match(rules, channels, note, labels.get(event.uid, {}))
                await asyncio.gather(*(self.deliver(t, note) for t in targets))
            await self._advance(event.id)
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
        """Posts with retries (exponential backoff); every attempt goes in the log."""
        body, headers = request_for(target, note)
        last: Delivery | None = None
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as http:
            for attempt in range(1, self.attempts + 1):
                status: int | None = None
                error: str | None = None
                refused = False
                try:
                    to = await self.destination(target.url)
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
                    error, refused = _scrub(f"refused: {exc}", target), True
                except OSError as exc:  # the name did not resolve
                    error = _scrub(f"cannot resolve the channel's host: {exc}", target)
                except httpx.HTTPError as exc:
                    error = _scrub(f"{type(exc).__name__}: {exc}", target)
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
                if ok or refused or not _retryable(status) or attempt == self.attempts:
                    break
                await self.sleep(self.base_delay_s * 2 ** (attempt - 1))
        assert last is not None
        return last

    async def destination(self, url: str) -> Destination:
        """Where a post to ``url`` goes, after resolving its host now; RefusedAddressError
        when the host is or resolves to an address the policy refuses, OSError when it does
        not resolve. Checked at every post, so a name that resolves elsewhere since the
        channel was set (DNS rebinding) is refused too."""
        parsed = httpx.URL(url)
        host = parsed.host
        if self.policy.allows_host(host):
            return Destination(parsed, {}, {})
        literal = literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            addresses = await self.resolve(host, port)
            if not addresses:
                raise OSError(f"{host} resolves to no address")
        refusal = resolved_refusal(host, addresses, self.policy)
        if refusal is not None:
            raise RefusedAddressError(refusal)
        if literal is not None and str(literal) == host:
            return Destination(parsed, {}, {})
        pinned = parsed.copy_with(host=str(addresses[0]))
        extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return Destination(pinned, {"Host": parsed.netloc.decode("ascii")}, extensions)

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


def match(
    rules: Sequence[RuleRow],
    channels: dict[tuple[str, str], Target],
    note: Notification,
    labels: dict[str, str],
) -> list[Target]:
    """The channels the note goes to: each once, however many rules name it."""
    out: dict[str, Target] = {}
    for rule in sorted(rules, key=lambda r: r.name):
        if rule.team != note.team or note.event not in rule.events:
            continue
        if rule.selector:
            try:
                if not matches(parse_selector(rule.selector), labels):
                    continue
            except ValueError:
                continue
        target = channels.get((rule.team, rule.channel))
        if target is not None:
            out.setdefault(target.name, target)
    return list(out.values())


def sample_notification(team: str, channel: str, now: datetime) -> Notification:
    return Notification(
        event="test",
        kind="Channel",
        team=team,
        name=channel,
        reason="Test",
        message=f"a test notification from Sapwood to channel {channel}",
        time=now,
    )
