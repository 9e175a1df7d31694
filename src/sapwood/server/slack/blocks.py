"""The workspace message: a Workspace's state, resources and expiry, with the buttons that
fit its state (Open, Extend, Pause or Resume, Delete). Pure: rendered again whenever the
workspace changes, and the message is updated in place."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sapwood.schemas import Object, Phase
from sapwood.server.slack.message import Block, Message, context, plain, section
from sapwood.specs import quantity
from sapwood.specs.paths import workspace_path

OPEN = "ws_open"
EXTEND = "ws_extend"
PAUSE = "ws_pause"
RESUME = "ws_resume"
DELETE = "ws_delete"
ACTIONS = (OPEN, EXTEND, PAUSE, RESUME, DELETE)
EXTEND_BY = timedelta(days=1)


def button_value(team: str, name: str) -> str:
    """What every workspace button carries: which workspace it acts on."""
    return json.dumps({"team": team, "name": name}, separators=(",", ":"))


def open_url(gateway_url: str, team: str, name: str) -> str:
    """Where a person opens a workspace: its path on the gateway."""
    return gateway_url.rstrip("/") + workspace_path(team, name)


def workspace_of(value: str) -> tuple[str, str] | None:
    """(team, name) from a button's value; None when it is not one of ours."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    team, name = data.get("team"), data.get("name")
    if isinstance(team, str) and isinstance(name, str) and team and name:
        return team, name
    return None


def expires_at(obj: Object) -> datetime | None:
    """When a workspace with a time to live is paused for expiry; None without one."""
    ttl = obj.spec.get("ttl")
    if ttl is None:
        return None
    try:
        return obj.metadata.created_at + quantity.parse_duration(ttl)
    except ValueError:
        return None


def workspace_message(
    obj: Object | None, *, team: str, name: str, gateway_url: str, now: datetime
) -> Message:
    """The message for workspace ``team/name``; ``obj`` None: it was deleted (no buttons)."""
    ref = f"*{name}* (team {team})"
    if obj is None:
        text = f"Workspace {name} in team {team} was deleted"
        return Message(text=text, blocks=[section(f"Workspace {ref}: deleted")])
    phase = obj.phase or Phase.PENDING
    state = _state(obj, phase)
    lines = [f"Workspace {ref}: {state}", f"*Resources:* {_resources(obj.spec)}"]
    expiry = expires_at(obj)
    if expiry is not None:
        lines.append(f"*Expires:* {_expiry(expiry, now)}")
    blocks: list[Block] = [section("\n".join(lines))]
    buttons = _buttons(obj, phase, team=team, name=name, gateway_url=gateway_url)
    if buttons:
        blocks.append({"type": "actions", "block_id": "workspace", "elements": buttons})
    if obj.spec.get("tool") == "command" and obj.spec.get("command"):
        blocks.append(context(f"runs `{_command(obj.spec['command'])}`"))
    return Message(text=f"Workspace {name} in team {team}: {phase.value}", blocks=blocks)


def _state(obj: Object, phase: Phase) -> str:
    """The phase in bold, then why (the reason and the status message): for a Pending
    workspace, what the queue waits for."""
    reason = obj.status.get("reason")
    message = obj.status.get("message")
    if obj.metadata.deletion_timestamp is not None:
        phase = Phase.TERMINATING
    words = f"*{phase.value}*"
    if reason and reason != phase.value:
        words += f" ({reason})"
    if message:
        words += f": {message}"
    position = obj.status.get("queuePosition")
    if phase is Phase.PENDING and isinstance(position, int):
        words += f" (number {position} in the queue)"
    return words


def _resources(spec: dict[str, Any]) -> str:
    resources = spec.get("resources") or {}
    parts = [f"{resources.get('cpu', '?')} CPU", f"{resources.get('memory', '?')} memory"]
    gpus = resources.get("gpu") or 0
    if gpus:
        model = resources.get("gpuModel")
        parts.append(f"{gpus} GPU{'s' if gpus != 1 else ''}" + (f" ({model})" if model else ""))
    if spec.get("image"):
        parts.append(f"image `{spec['image']}`")
    return ", ".join(parts)


def _expiry(at: datetime, now: datetime) -> str:
    """The expiry as a Slack date (each reader sees it in their own time zone), and
    "expired" once it passed. No "in 3h": a tracked message changes only when its
    object does (the updater renders again on changes only)."""
    stamp = f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"
    return f"{stamp} (expired)" if at <= now else stamp


def _command(command: Any) -> str:
    if isinstance(command, list) and command[:2] == ["/bin/sh", "-c"] and len(command) == 3:
        return str(command[2])[:200]
    return " ".join(str(c) for c in command)[:200] if isinstance(command, list) else ""


def _buttons(
    obj: Object, phase: Phase, *, team: str, name: str, gateway_url: str
) -> list[dict[str, Any]]:
    """The buttons that make sense now: none while it is being deleted."""
    if obj.metadata.deletion_timestamp is not None or phase is Phase.TERMINATING:
        return []
    value = button_value(team, name)
    buttons = []
    if phase is Phase.RUNNING:
        url = open_url(gateway_url, team, name)
        buttons.append(_button(OPEN, "Open", value, url=url, style="primary"))
    if obj.spec.get("ttl") is not None:
        buttons.append(_button(EXTEND, "Extend 1 day", value))
    paused = obj.spec.get("paused") is True or phase in (Phase.PAUSED, Phase.FAILED)
    buttons.append(_button(RESUME, "Resume", value) if paused else _button(PAUSE, "Pause", value))
    confirm = {
        "title": plain("Delete this workspace?"),
        "text": plain(f"{name} in team {team} is stopped and deleted."),
        "confirm": plain("Delete"),
        "deny": plain("Keep it"),
        "style": "danger",
    }
    buttons.append({**_button(DELETE, "Delete", value, style="danger"), "confirm": confirm})
    return buttons


def _button(
    action: str, label: str, value: str, *, url: str | None = None, style: str | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action,
        "text": plain(label),
        "value": value,
    }
    if url is not None:
        button["url"] = url
    if style is not None:
        button["style"] = style
    return button
