"""The env-create modal and what it turns into: Slack views (pure JSON) and the Workspace
document a submission makes, with every bad value named on the field that holds it. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sapwood.server.slack.message import Block, plain, section
from sapwood.specs.objects import SpecError, parse_object

ENV_CREATE = "sapwood_env_create"  # the form's callback id
LOADING = "sapwood_loading"
LINK_OPEN = "link_open"  # the link view's URL button (Slack still sends an action)

# Block ids; each input's action id is its block id.
NAME = "name"
TEAM = "team"
CPU = "cpu"
MEMORY = "memory"
GPU = "gpu"
GPU_MODEL = "gpu_model"
IMAGE = "image"
TOOL = "tool"
COMMAND = "command"
IDLE_TIMEOUT = "idle_timeout"
TTL = "ttl"

JUPYTER = "jupyter"
RUN_COMMAND = "command"
NEVER = "never"
NO_TTL = "none"
IDLE_TIMEOUTS = ("30m", "1h", "2h", "4h", "8h", NEVER)
TTLS = (NO_TTL, "8h", "1d", "3d", "7d")
MAX_GPUS = 8
MAX_TEAMS = 100  # a static select holds at most 100 options
DEFAULT_CPU = "2"
DEFAULT_MEMORY = "4Gi"
DEFAULT_IDLE_TIMEOUT = "2h"

# Where a spec error's path lands on the form: the longest matching prefix wins.
_FIELDS = {
    "metadata.name": NAME,
    "metadata.team": TEAM,
    "metadata": NAME,
    "spec.resources.cpu": CPU,
    "spec.resources.memory": MEMORY,
    "spec.resources.gpuModel": GPU_MODEL,
    "spec.resources.gpu": GPU,
    "spec.resources": CPU,
    "spec.image": IMAGE,
    "spec.tool": TOOL,
    "spec.command": COMMAND,
    "spec.idleTimeout": IDLE_TIMEOUT,
    "spec.ttl": TTL,
}
# The spec's own checks across fields (a tool and its command) have the path "spec".
_WHOLE_SPEC = COMMAND


class FormError(ValueError):
    """What is wrong with a submission, per block id (Slack shows each under its field)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{block}: {message}" for block, message in errors.items()))
        self.errors = dict(errors)


def block_for(path: str) -> str:
    """The form field a spec or service error path names (``objects[0].spec.resources.cpu``
    -> ``cpu``); the name field when the path names none of them."""
    if path.startswith("objects[") and "]." in path:
        path = path.split("].", 1)[1]
    if path == "spec":
        return _WHOLE_SPEC
    for prefix in sorted(_FIELDS, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "."):
            return _FIELDS[prefix]
    return NAME


def field_errors(details: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(path, message) pairs as Slack's ``response_action: errors``: one message per block,
    the first error of each field."""
    errors: dict[str, str] = {}
    for path, message in details:
        errors.setdefault(block_for(path), message[:300])
    return errors


def workspace_document(values: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The Workspace document a submission asks for (``values`` is Slack's
    ``view.state.values``), checked against the spec; FormError naming each bad field."""
    tool = _choice(values, TOOL) or JUPYTER
    command = _text(values, COMMAND)
    if tool == RUN_COMMAND and command is None:
        raise FormError({COMMAND: "type the command the environment runs"})
    if tool == JUPYTER and command is not None:
        raise FormError(
            {COMMAND: "Jupyter starts JupyterLab itself: clear the command, or choose 'a command'"}
        )
    team = _choice(values, TEAM)
    if team is None:
        raise FormError({TEAM: "choose a team"})
    resources: dict[str, Any] = {
        "cpu": _text(values, CPU) or DEFAULT_CPU,
        "memory": _text(values, MEMORY) or DEFAULT_MEMORY,
        "gpu": _choice(values, GPU) or "0",
    }
    if (gpu_model := _text(values, GPU_MODEL)) is not None:
        resources["gpuModel"] = gpu_model
    idle = _choice(values, IDLE_TIMEOUT) or DEFAULT_IDLE_TIMEOUT
    spec: dict[str, Any] = {
        "tool": tool,
        "resources": resources,
        "idleTimeout": None if idle == NEVER else idle,
    }
    if command is not None:
        spec["command"] = command
    if (image := _text(values, IMAGE)) is not None:
        spec["image"] = image
    if (ttl := _choice(values, TTL)) not in (None, NO_TTL):
        spec["ttl"] = ttl
    document = {
        "apiVersion": "sapwood/v1",
        "kind": "Workspace",
        "metadata": {"name": _text(values, NAME) or "", "team": team},
        "spec": spec,
    }
    try:
        parse_object(document)
    except SpecError as exc:
        raise FormError(field_errors((e.path, e.message) for e in exc.errors)) from None
    return document


def channel_of(private_metadata: str) -> str | None:
    """The channel the form was opened from (its message goes there); None: a DM."""
    try:
        data = json.loads(private_metadata or "{}")
    except ValueError:
        return None
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and channel else None


def form_view(teams: Sequence[str], *, channel: str | None) -> dict[str, Any]:
    """The env-create form: teams are those the user may create in (at least one)."""
    shown = list(teams)[:MAX_TEAMS]
    blocks: list[Block] = [
        _input(NAME, "Name", _text_input(NAME, "lowercase letters, digits and '-'")),
        _input(TEAM, "Team", _select(TEAM, shown, initial=shown[0])),
        _input(CPU, "CPU", _text_input(CPU, "2, 1.5 or 500m", initial=DEFAULT_CPU)),
        _input(MEMORY, "Memory", _text_input(MEMORY, "4Gi, 512Mi", initial=DEFAULT_MEMORY)),
        _input(GPU, "GPUs", _select(GPU, [str(n) for n in range(MAX_GPUS + 1)], initial="0")),
        _input(GPU_MODEL, "GPU model", _text_input(GPU_MODEL, "any, or e.g. A100"), optional=True),
        _input(IMAGE, "Image", _text_input(IMAGE, "the server's default"), optional=True),
        _input(TOOL, "Runs", _tool_choice()),
        _input(COMMAND, "Command", _text_input(COMMAND, "when it runs a command"), optional=True),
        _input(
            IDLE_TIMEOUT,
            "Pause when idle for",
            _select(
                IDLE_TIMEOUT, IDLE_TIMEOUTS, initial=DEFAULT_IDLE_TIMEOUT, labels={NEVER: "never"}
            ),
        ),
        _input(
            TTL, "Time to live", _select(TTL, TTLS, initial=NO_TTL, labels={NO_TTL: "no limit"})
        ),
    ]
    return {
        **_modal("New environment", blocks),
        "callback_id": ENV_CREATE,
        "submit": plain("Create"),
        "private_metadata": json.dumps({"channel": channel}),
    }


def loading_view() -> dict[str, Any]:
    """What opens at once, while the form is made (a trigger id lives 3 s)."""
    return {**_modal("New environment", [section("Loading…")]), "callback_id": LOADING}


def link_view(url: str) -> dict[str, Any]:
    """The first view for a Slack user not yet linked to a Sapwood user."""
    button = {
        "type": "button",
        "action_id": LINK_OPEN,
        "text": plain("Link my account"),
        "url": url,
        "style": "primary",
    }
    blocks = [
        section(
            "Your Slack user is not linked to a Sapwood user yet. Open the link below, sign "
            "in to Sapwood and confirm; then run `/sapwood env create` again. "
            "(`/sapwood link` sends you a fresh link in a DM.)"
        ),
        {"type": "actions", "elements": [button]},
    ]
    return {**_modal("Link your account", blocks), "callback_id": LOADING}


def notice_view(text: str) -> dict[str, Any]:
    """A view that only says something (a refusal, a failure)."""
    return {**_modal("New environment", [section(text)]), "callback_id": LOADING}


def _modal(title: str, blocks: list[Block]) -> dict[str, Any]:
    return {"type": "modal", "title": plain(title[:24]), "close": plain("Close"), "blocks": blocks}


def _input(block: str, label: str, element: Block, *, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def _text_input(action: str, placeholder: str, *, initial: str | None = None) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": action,
        "placeholder": plain(placeholder),
    }
    if initial is not None:
        element["initial_value"] = initial
    return element


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": plain(label or value), "value": value}


def _select(
    action: str, values: Sequence[str], *, initial: str, labels: Mapping[str, str] | None = None
) -> Block:
    labels = labels or {}
    options = [_option(v, labels.get(v)) for v in values]
    return {
        "type": "static_select",
        "action_id": action,
        "options": options,
        "initial_option": _option(initial, labels.get(initial)),
    }


def _tool_choice() -> Block:
    options = [_option(JUPYTER, "JupyterLab"), _option(RUN_COMMAND, "a command")]
    return {
        "type": "radio_buttons",
        "action_id": TOOL,
        "options": options,
        "initial_option": options[0],
    }


def _field(values: Mapping[str, Mapping[str, Mapping[str, Any]]], block: str) -> Mapping[str, Any]:
    entry = values.get(block) or {}
    return entry.get(block) or next(iter(entry.values()), {})


def _text(values: Mapping[str, Mapping[str, Mapping[str, Any]]], block: str) -> str | None:
    """A text input's value, stripped; None when empty."""
    value = _field(values, block).get("value")
    return value.strip() or None if isinstance(value, str) else None


def _choice(values: Mapping[str, Mapping[str, Mapping[str, Any]]], block: str) -> str | None:
    option = _field(values, block).get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else None
