"""The idle-paused and underutilised rule kinds: parameters on the wire, and the mapping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.schemas import NotificationEvent
from sapwood.server.observe.messages import classify
from tests.support import Api

pytestmark = pytest.mark.anyio


def test_idle_pauses_map_to_idle_paused_and_underuse_events_to_nothing() -> None:
    assert classify("Workspace", "Normal", "IdlePaused") is NotificationEvent.IDLE_PAUSED
    assert classify("Service", "Normal", "IdlePaused") is NotificationEvent.IDLE_PAUSED
    assert classify("Workspace", "Normal", "Paused") is NotificationEvent.WORKSPACE_PAUSED
    # The under-use check posts its own notifications; its event must not post again.
    assert classify("Job", "Normal", "Underutilised") is None


async def test_underutilised_parameters_default_and_round_trip(api: Api) -> None:
    sdk = api.admin
    await sdk.set_channel("hook", type="webhook", url="http://127.0.0.1:9/hook")
    plain = await sdk.set_rule("waste", channel="hook", events=["underutilised"])
    assert (plain.threshold, plain.duration) == (20.0, timedelta(minutes=30))
    tuned = await sdk.set_rule(
        "waste",
        channel="hook",
        events=["underutilised", "idle-paused"],
        threshold=10,
        duration="2h",
    )
    assert (tuned.threshold, tuned.duration) == (10.0, timedelta(hours=2))
    [listed] = await sdk.list_rules()
    assert listed.duration == timedelta(hours=2)
    assert [e.value for e in listed.events] == ["underutilised", "idle-paused"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("threshold", 0, "greater than 0"),
        ("threshold", 150, "less than or equal to 100"),
        ("duration", "10s", "between 1m and 7d"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    api: Api, field: str, value: object, message: str
) -> None:
    await api.admin.set_channel("hook", type="webhook", url="http://127.0.0.1:9/hook")
    body = {"channel": "hook", "events": ["underutilised"], field: value}
    async with api.http(api.admin_token) as http:
        response = await http.put("/api/v1/teams/default/rules/waste", json=body)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["path"].endswith(field) and message in d["message"] for d in details), details


async def test_unknown_event_lists_the_new_kinds(api: Api) -> None:
    await api.admin.set_channel("hook", type="webhook", url="http://127.0.0.1:9/hook")
    body = {"channel": "hook", "events": ["idle"]}
    async with api.http(api.admin_token) as http:
        response = await http.put("/api/v1/teams/default/rules/r", json=body)
    assert response.status_code == 422, response.text
    assert "'idle-paused'" in response.text
    assert "'underutilised'" in response.text
