"""What the Slack app posts for a notification: text and blocks, with buttons. Pure.

An under-use alert offers Pause it (workspaces and services), Shrink the request to what
it uses (the suggestion ``judge_underuse`` made) and Dismiss for a day; a Job's
succeeded, failed or preempted notification offers Logs and Rerun; another preempted
object, Logs. Every other notification says what the incoming-webhook ``slack``
channel says (``slack_body``). The buttons' listeners are server/slack/alert_actions.py:
each button's value is an ``ActionValue`` as JSON, naming the object by uid as well, so a
click on an old alert never acts on a newer object of the same name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sapwood.schemas import NotificationEvent
from sapwood.server.observe.messages import Notification, Shrink, slack_body

Block = dict[str, Any]

ALERT_PAUSE = "alert_pause"
ALERT_SHRINK = "alert_shrink"
ALERT_DISMISS = "alert_dismiss"
JOB_LOGS = "job_logs"
JOB_RERUN = "job_rerun"
ACTIONS = (ALERT_PAUSE, ALERT_SHRINK, ALERT_DISMISS, JOB_LOGS, JOB_RERUN)
PAUSABLE = ("Workspace", "Service")
JOB_EVENTS = frozenset(
    {
        NotificationEvent.JOB_SUCCEEDED.value,
        NotificationEvent.JOB_FAILED.value,
        NotificationEvent.PREEMPTED.value,
    }
)
ACTIONS_BLOCK = "sapwood_actions"  # the block_id of the buttons, replaced once acted on


@dataclass(frozen=True)
class SlackPost:
    """A message for chat.postMessage: ``text`` is the fallback notifications show."""

    text: str
    blocks: list[Block]


@dataclass(frozen=True)
class ActionValue:
    """What a button acts on: the object, and for Shrink the request per replica."""

    uid: str
    kind: str
    team: str
    name: str
    cpu: int | None = None  # millis
    gpus: int | None = None
    generation: int | None = None  # Shrink: the spec the suggestion was made for

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def parse(cls, text: str) -> ActionValue:
        """The value of a button this module made; ValueError for anything else."""
        try:
            data = json.loads(text)
            value = cls(
                uid=str(data["uid"]),
                kind=str(data["kind"]),
                team=str(data["team"]),
                name=str(data["name"]),
                cpu=_count(data.get("cpu")),
                gpus=_count(data.get("gpus")),
                generation=_count(data.get("generation")),
            )
        except (TypeError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a Sapwood button value: {exc}") from None
        return value


def _count(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{value!r} is not a count")
    return value


def slack_post(note: Notification) -> SlackPost:
    """The message for ``note``; buttons only where it names an object (its uid)."""
    if note.uid and note.event == NotificationEvent.UNDERUTILISED.value:
        return underuse_alert(note)
    if note.uid and note.event in JOB_EVENTS:
        return job_message(note)
    body = slack_body(note)
    return SlackPost(body["text"], body["blocks"])


def underuse_alert(note: Notification) -> SlackPost:
    ref = f"{note.kind.lower()}/{note.name}"
    value = _value(note)
    buttons = []
    if note.kind in PAUSABLE:
        buttons.append(_button("Pause it", ALERT_PAUSE, value.to_json()))
    if note.shrink is not None:
        shrunk = ActionValue(**{**asdict(value), **_shrink_fields(note.shrink)})
        label = f"Shrink to {shrink_text(note.shrink)}"
        buttons.append(_button(label, ALERT_SHRINK, shrunk.to_json(), style="primary"))
    buttons.append(_button("Dismiss for a day", ALERT_DISMISS, value.to_json()))
    text = f"{ref} in team {note.team} is under-used: {note.message}"
    blocks = [
        _section(f":chart_with_downwards_trend: *{ref}* in team *{note.team}* is under-used"),
        _section(note.message or "-"),
        _context(f"Sapwood · {note.time.isoformat()}"),
        {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons},
    ]
    return SlackPost(text, blocks)


def job_message(note: Notification) -> SlackPost:
    body = slack_body(note)
    value = _value(note).to_json()
    buttons = [_button("Logs", JOB_LOGS, value)]
    if note.kind == "Job":
        buttons.append(_button("Rerun", JOB_RERUN, value))
    actions = {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons}
    return SlackPost(body["text"], [*body["blocks"], actions])


def shrink_text(shrink: Shrink) -> str:
    """The suggested request in words: "0.5 CPU", "2 CPUs", "1 GPU", "no GPU"."""
    if shrink.cpu_millis is not None:
        cores = shrink.cpu_millis / 1000
        return f"{cores:g} CPU{'' if cores <= 1 else 's'}"
    gpus = shrink.gpus or 0
    return "no GPU" if gpus == 0 else f"{gpus} GPU{'' if gpus == 1 else 's'}"


def acted_blocks(blocks: list[Block], done: str, *, keep: tuple[str, ...] = ()) -> list[Block]:
    """``blocks`` with the buttons replaced by a line saying what was done; buttons whose
    action id is in ``keep`` stay (a job's Logs after a rerun)."""
    out: list[Block] = []
    for block in blocks:
        if block.get("type") != "actions":
            out.append(block)
            continue
        kept = [e for e in block.get("elements", []) if e.get("action_id") in keep]
        if kept:
            out.append({**block, "elements": kept})
    out.append(_context(done))
    return out


def _value(note: Notification) -> ActionValue:
    return ActionValue(uid=note.uid, kind=note.kind, team=note.team, name=note.name)


def _shrink_fields(shrink: Shrink) -> dict[str, int | None]:
    if shrink.cpu_millis is not None:
        return {"cpu": shrink.cpu_millis, "generation": shrink.generation}
    return {"gpus": shrink.gpus or 0, "generation": shrink.generation}


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75], "emoji": False},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style is not None:
        button["style"] = style
    return button


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}
