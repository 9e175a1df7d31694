"""What Slack sends to an app: request bodies, their v0 signature, and Socket Mode payloads.

Pure functions of plain data, shared by both modes: an HTTP request carries a slash command
as form fields and an interaction as the form field ``payload`` (JSON); a Socket Mode
envelope carries the same fields as a dict. Shapes follow Slack's documentation for slash
commands, ``block_actions`` and ``view_submission`` (only the fields apps read).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

#: A request body and the headers Slack sends with it.
SignedRequest = tuple[bytes, dict[str, str]]

Answer = str | Sequence[str] | None


@dataclass(frozen=True)
class Team:
    """The Slack workspace and app the fake plays."""

    id: str = "T_SAPWOOD"
    domain: str = "sapwood-test"
    app_id: str = "A_SAPWOOD"
    bot_user: str = "U_SAPWOOD_BOT"
    bot_id: str = "B_SAPWOOD"
    #: The deprecated verification token Slack still puts in every payload.
    verification_token: str = "fake-verification-token"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Slack's v0 signature: HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the secret."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes, content_type: str) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(secret, timestamp, body),
    }


def form_body(fields: Mapping[str, str]) -> bytes:
    return urlencode(fields).encode()


def interactive_body(payload: Mapping[str, Any]) -> bytes:
    """An interaction as Slack POSTs it: the form field ``payload`` holding JSON."""
    return form_body({"payload": json.dumps(payload)})


def user_name(user: str) -> str:
    """A readable handle for a fake user id: ``U_ALICE`` -> ``alice``."""
    return user.removeprefix("U_").removeprefix("W_").lower() or user


def channel_name(channel: str) -> str:
    if channel.startswith("D"):
        return "directmessage"
    return channel.removeprefix("C_").removeprefix("G_").lower() or channel


def command_payload(
    team: Team,
    *,
    user: str,
    text: str,
    channel: str,
    command: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The fields of a slash command (form fields over HTTP, a dict over Socket Mode)."""
    return {
        "token": team.verification_token,
        "team_id": team.id,
        "team_domain": team.domain,
        "channel_id": channel,
        "channel_name": channel_name(channel),
        "user_id": user,
        "user_name": user_name(user),
        "command": command,
        "text": text,
        "api_app_id": team.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def _user(team: Team, user: str) -> dict[str, str]:
    name = user_name(user)
    return {"id": user, "username": name, "name": name, "team_id": team.id}


def _team(team: Team) -> dict[str, str]:
    return {"id": team.id, "domain": team.domain}


def block_action_payload(
    team: Team,
    *,
    user: str,
    action: Mapping[str, Any],
    trigger_id: str,
    response_url: str | None,
    channel: str | None,
    message: Mapping[str, Any] | None,
    view: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for one clicked element, in a message or in a view."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "token": team.verification_token,
        "api_app_id": team.app_id,
        "team": _team(team),
        "user": _user(team, user),
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": trigger_id,
        "actions": [dict(action)],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = dict(view)
    elif message is not None and channel is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["message"] = dict(message)
    if channel is not None:
        payload["channel"] = {"id": channel, "name": channel_name(channel)}
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission_payload(
    team: Team,
    *,
    user: str,
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    trigger_id: str,
) -> dict[str, Any]:
    """A ``view_submission`` of ``view`` (as the fake last showed it) with these state values."""
    submitted = dict(view)
    submitted["state"] = {"values": dict(values)}
    return {
        "type": "view_submission",
        "token": team.verification_token,
        "api_app_id": team.app_id,
        "team": _team(team),
        "user": _user(team, user),
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
    }


def elements(blocks: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every interactive element in ``blocks`` with the id of the block holding it."""
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        if isinstance(block.get("element"), Mapping):
            yield block_id, block["element"]
        if isinstance(block.get("accessory"), Mapping):
            yield block_id, block["accessory"]
        for element in block.get("elements", ()):
            if isinstance(element, Mapping) and "action_id" in element:
                yield block_id, element


def find_element(
    blocks: Sequence[Mapping[str, Any]], action_id: str
) -> tuple[str, Mapping[str, Any]] | None:
    """The (block id, element) whose ``action_id`` this is; None when no element has it."""
    for block_id, element in elements(blocks):
        if element.get("action_id") == action_id:
            return block_id, element
    return None


def clicked(block_id: str, element: Mapping[str, Any], *, value: str | None) -> dict[str, Any]:
    """The ``actions`` entry Slack sends for a click on ``element``."""
    action: dict[str, Any] = {
        "type": element.get("type", "button"),
        "block_id": block_id,
        "action_id": element.get("action_id", ""),
        "action_ts": "1700000000.000000",
    }
    if "text" in element:
        action["text"] = element["text"]
    chosen = value if value is not None else element.get("value")
    if chosen is not None:
        action["value"] = chosen
    return action


def state_values(
    blocks: Sequence[Mapping[str, Any]], answers: Mapping[str, Answer]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Slack's ``view.state.values`` for a modal's input blocks filled in with ``answers``.

    ``answers`` is keyed by action id (or block id). An input left unanswered keeps its
    initial value, as in Slack. Raises ValueError for an answer no input takes, or for an
    option a select does not offer.
    """
    inputs = [
        (str(block.get("block_id", "")), block["element"])
        for block in blocks
        if block.get("type") == "input" and isinstance(block.get("element"), Mapping)
    ]
    known = {key for block_id, element in inputs for key in (block_id, element.get("action_id"))}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(f"no input takes {unknown}; the view has {sorted(map(str, known))}")
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block_id, element in inputs:
        action_id = str(element.get("action_id", ""))
        if action_id in answers:
            state = _state(element, answers[action_id], answered=True)
        elif block_id in answers:
            state = _state(element, answers[block_id], answered=True)
        else:
            state = _state(element, None, answered=False)
        values.setdefault(block_id, {})[action_id] = state
    return values


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = list(element.get("options", ()))
    for group in element.get("option_groups", ()):
        found.extend(group.get("options", ()))
    return found


def _option(element: Mapping[str, Any], value: str) -> Mapping[str, Any]:
    for option in _options(element):
        if option.get("value") == value:
            return option
    offered = [option.get("value") for option in _options(element)]
    raise ValueError(f"{element.get('action_id')!r} offers no option {value!r}; it has {offered}")


def _state(element: Mapping[str, Any], answer: Answer, *, answered: bool) -> dict[str, Any]:
    kind = str(element.get("type", "plain_text_input"))
    state: dict[str, Any] = {"type": kind}
    if kind in ("static_select", "radio_buttons"):
        if answered:
            state["selected_option"] = None if answer is None else _option(element, str(answer))
        else:
            state["selected_option"] = element.get("initial_option")
    elif kind in ("checkboxes", "multi_static_select"):
        if answered:
            chosen = [answer] if isinstance(answer, str) else list(answer or ())
            state["selected_options"] = [_option(element, value) for value in chosen]
        else:
            state["selected_options"] = list(element.get("initial_options", ()))
    elif kind in ("users_select", "conversations_select", "channels_select"):
        field = {"users_select": "user", "conversations_select": "conversation"}.get(
            kind, "channel"
        )
        state[f"selected_{field}"] = answer if answered else element.get(f"initial_{field}")
    elif kind in ("datepicker", "timepicker"):
        field = "date" if kind == "datepicker" else "time"
        state[f"selected_{field}"] = answer if answered else element.get(f"initial_{field}")
    else:
        state["value"] = answer if answered else element.get("initial_value")
    return state
