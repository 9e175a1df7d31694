"""What a notification says and to whom it goes: which events notify, the rules that match
one, and the body posted to a webhook or to Slack. Pure.

Secrets and URL paths/queries never reach a log line: a channel is named by team, name and
host only (``host_of``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from sapwood.schemas import ChannelType, NotificationEvent, Reason
from sapwood.server.store.tables import ChannelRow, RuleRow
from sapwood.specs.selectors import matches, parse_selector

# Warnings on a Job that do not end it: it retries, waits, or is queued again.
JOB_NOT_FINAL = frozenset(
    {Reason.BACK_OFF, Reason.OOM_KILLED, Reason.START_DELAYED, Reason.PREEMPTED}
)
UNHEALTHY = frozenset({Reason.PROBE_FAILED, Reason.NOT_READY})


def classify(kind: str, type: str, reason: str) -> NotificationEvent | None:
    """The notification an event (as the controller writes it) stands for, if any."""
    if reason == Reason.PREEMPTED:
        return NotificationEvent.PREEMPTED
    if kind == "Job":
        if reason == Reason.SUCCEEDED:
            return NotificationEvent.JOB_SUCCEEDED
        if type == "Warning" and reason not in JOB_NOT_FINAL:
            return NotificationEvent.JOB_FAILED
    if kind == "Service" and reason in UNHEALTHY:
        return NotificationEvent.SERVICE_UNHEALTHY
    if kind == "Workspace" and reason == Reason.PAUSED:
        return NotificationEvent.WORKSPACE_PAUSED
    if reason == Reason.IDLE_PAUSED:
        return NotificationEvent.IDLE_PAUSED
    return None


@dataclass(frozen=True)
class Shrink:
    """The request per replica an under-use alert suggests: CPU in millis or whole GPUs
    (the one it found under-used; the other is None)."""

    cpu_millis: int | None = None
    gpus: int | None = None
    # The spec's generation the suggestion was made for: a spec changed since is not
    # shrunk (the suggestion was about the request it replaced).
    generation: int | None = None


@dataclass(frozen=True)
class Notification:
    event: str
    kind: str
    team: str
    name: str
    reason: str
    message: str
    time: datetime
    uid: str = ""  # the object's: what the Slack app's buttons act on
    owner: str | None = None  # who a slack-dm channel messages; None when unknown
    shrink: Shrink | None = None  # an under-use alert's suggested request


@dataclass(frozen=True)
class Target:
    """What posting needs of a channel, read out of the session."""

    team: str
    name: str
    type: str
    url: str
    secret: str | None
    slack_channel: str | None = None

    @classmethod
    def of(cls, row: ChannelRow) -> Target:
        return cls(row.team, row.name, row.type, row.url, row.secret, row.slack_channel)


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


def scrub(text: str, target: Target) -> str:
    """``text`` without the channel's URL or secret, and not too long for the log."""
    for secret in (target.url, target.secret):
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


def retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


def retry_delay_s(attempt: int, *, base_s: float) -> float:
    """The wait after failed attempt ``attempt`` (1, 2, ...): doubling from ``base_s``."""
    return base_s * float(2 ** (attempt - 1))


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


def sample_notification(
    team: str, channel: str, now: datetime, *, owner: str | None = None
) -> Notification:
    """What ``…/channels/{name}/test`` posts; a slack-dm channel sends it to ``owner``."""
    return Notification(
        event="test",
        kind="Channel",
        team=team,
        name=channel,
        reason=Reason.TEST,
        message=f"a test notification from Sapwood to channel {channel}",
        time=now,
        owner=owner,
    )
