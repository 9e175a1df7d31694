"""The workspace message: its state in words and the buttons that fit the state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sapwood.schemas import Object
from sapwood.server.slack import blocks
from sapwood.server.slack.message import Message

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GATEWAY = "https://gw.example.org/"


def _workspace(
    phase: str = "Pending", *, spec: dict[str, Any] | None = None, **status: Any
) -> Object:
    return Object.model_validate(
        {
            "kind": "Workspace",
            "metadata": {
                "name": "nb",
                "team": "research",
                "uid": "u1",
                "generation": 1,
                "resourceVersion": 1,
                "createdAt": T0.isoformat(),
                "updatedAt": T0.isoformat(),
            },
            "spec": {
                "tool": "jupyter",
                "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1, "gpuModel": "A100"},
                **(spec or {}),
            },
            "status": {"phase": phase, **status},
        }
    )


def _render(obj: Object | None, now: datetime = T0) -> Message:
    return blocks.workspace_message(obj, team="research", name="nb", gateway_url=GATEWAY, now=now)


def _buttons(message: Message) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def _text(message: Message) -> str:
    return "\n".join(json.dumps(b) for b in message.blocks)


def test_a_pending_workspace_says_what_the_queue_waits_for() -> None:
    obj = _workspace(reason="Waiting", message="waiting for capacity: 1 GPU (A100) free of 2")
    message = _render(obj)
    assert "Pending" in message.text
    assert "waiting for capacity: 1 GPU (A100) free of 2" in _text(message)
    assert "2 CPU, 4Gi memory, 1 GPU (A100)" in _text(message)
    assert set(_buttons(message)) == {blocks.PAUSE, blocks.DELETE}


def test_a_running_workspace_opens_through_the_gateway() -> None:
    buttons = _buttons(_render(_workspace("Running")))
    assert buttons[blocks.OPEN]["url"] == "https://gw.example.org/w/research/nb/"
    assert set(buttons) == {blocks.OPEN, blocks.PAUSE, blocks.DELETE}


@pytest.mark.parametrize(
    ("obj", "toggle"),
    [
        (_workspace("Running", spec={"paused": True}), blocks.RESUME),
        (_workspace("Paused", reason="IdlePaused"), blocks.RESUME),
        (_workspace("Failed"), blocks.RESUME),
        (_workspace("Admitted"), blocks.PAUSE),
    ],
)
def test_pause_or_resume_follows_the_state(obj: Object, toggle: str) -> None:
    buttons = _buttons(_render(obj))
    assert toggle in buttons
    assert ({blocks.PAUSE, blocks.RESUME} - {toggle}).isdisjoint(buttons)


def test_delete_asks_first() -> None:
    delete = _buttons(_render(_workspace("Running")))[blocks.DELETE]
    assert delete["style"] == "danger"
    assert "confirm" in delete


def test_every_button_names_its_workspace() -> None:
    obj = _workspace("Running", spec={"ttl": "1d"})
    for button in _buttons(_render(obj)).values():
        assert blocks.workspace_of(button["value"]) == ("research", "nb")


def test_a_time_to_live_shows_the_expiry_and_offers_to_extend() -> None:
    obj = _workspace("Running", spec={"ttl": "1d"})
    message = _render(obj, now=T0 + timedelta(hours=2))
    assert "<!date^" in _text(message)  # shown in each reader's own time zone
    # The same an hour later: the card changes with its workspace, not with the clock.
    assert _render(obj, now=T0 + timedelta(hours=3)) == message
    assert blocks.EXTEND in _buttons(message)
    assert "expired" in _text(_render(obj, now=T0 + timedelta(days=2)))


def test_without_a_time_to_live_there_is_no_expiry() -> None:
    message = _render(_workspace("Running"))
    assert "Expires" not in _text(message)
    assert blocks.EXTEND not in _buttons(message)


def test_a_workspace_being_deleted_has_no_buttons() -> None:
    obj = _workspace("Running").model_copy(deep=True)
    obj.metadata.deletion_timestamp = T0
    message = _render(obj)
    assert "Terminating" in _text(message)
    assert _buttons(message) == {}


def test_a_deleted_workspace_says_so_without_buttons() -> None:
    message = _render(None)
    assert "deleted" in message.text
    assert _buttons(message) == {}


def test_a_value_that_is_not_a_workspace_is_refused() -> None:
    assert blocks.workspace_of("nope") is None
    assert blocks.workspace_of('{"team": "t"}') is None
    assert blocks.workspace_of("[1]") is None
