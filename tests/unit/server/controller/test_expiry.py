"""plan_workspace with a time to live: paused at expiry (not before), staying paused, and
an extension moving the expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sapwood.server.controller.plan.expiry import EXPIRED
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.controller.plan.workspace import plan_workspace
from tests.unit.server.controller.views import CONTEXT, T0, after, reasons, running, view

DAY = timedelta(days=1)
RUNNING = {"phase": "Running", "allocated": {"cpu": 500}, "url": "http://127.0.0.1:1/"}
MESSAGE = "time to live 1d ran out at 2026-03-02 09:00 UTC; extend it to use it again"


def workspace(status: dict[str, Any], **spec: Any) -> ObjectView:
    return view("Workspace", "lab", status=dict(status), tool="command", command=["sleep"], **spec)


def test_a_workspace_runs_until_its_time_to_live_is_out_and_asks_for_a_look_then() -> None:
    ws = workspace(RUNNING, ttl="1d")
    plan = plan_workspace(
        ws, {0: running(ws.key())}, now=T0 + DAY - timedelta(seconds=1), context=CONTEXT
    )
    assert plan.stops == []
    assert plan.status is not None
    assert plan.status["phase"] == "Running"
    assert plan.status["expiresAt"] == (T0 + DAY).isoformat()
    assert plan.due == T0 + DAY


def test_at_expiry_the_workspace_is_paused_with_its_volume_kept() -> None:
    ws = workspace(RUNNING, ttl="1d")
    plan = plan_workspace(ws, {0: running(ws.key())}, now=T0 + DAY, context=CONTEXT)
    assert plan.stops == [ws.key()]
    assert plan.forgets == []  # the unit is stopped, not thrown away with its volume
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Paused", EXPIRED)
    assert plan.status["message"] == MESSAGE
    assert "url" not in plan.status
    assert "allocated" not in plan.status
    assert plan.status["expiresAt"] == (T0 + DAY).isoformat()
    assert reasons(plan) == [EXPIRED]
    assert plan.events[0].message == f"workspace paused: {MESSAGE}"
    assert plan.due is None  # nothing more to wait for


def test_an_expired_workspace_stays_paused_even_when_resume_was_asked() -> None:
    ws = workspace(RUNNING, ttl="1d")
    paused = after(ws, plan_workspace(ws, {0: running(ws.key())}, now=T0 + DAY, context=CONTEXT))
    later = T0 + 3 * DAY
    again = plan_workspace(paused, {}, now=later, context=CONTEXT)
    assert (again.status, again.starts, again.events) == (None, [], [])
    # Had a resume got through without an extension, the pause is made again.
    asked = workspace({**paused.status, "reason": "ResumeRequested"}, ttl="1d")
    plan = plan_workspace(asked, {}, now=later, context=CONTEXT)
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Paused", EXPIRED)
    assert plan.starts == []


def test_an_extension_moves_the_expiry_and_a_resume_then_queues_it() -> None:
    ws = workspace(RUNNING, ttl="1d")
    paused = after(ws, plan_workspace(ws, {0: running(ws.key())}, now=T0 + DAY, context=CONTEXT))
    now = T0 + DAY + timedelta(hours=1)
    extended = workspace(paused.status, ttl="2d1h")  # extended by 1d from now
    plan = plan_workspace(extended, {}, now=now, context=CONTEXT)
    assert plan.starts == []
    assert plan.events == []
    assert plan.status is not None
    assert plan.status["reason"] == EXPIRED
    assert plan.status["expiresAt"] == (T0 + 2 * DAY + timedelta(hours=1)).isoformat()
    assert plan.due == T0 + 2 * DAY + timedelta(hours=1)

    resumed = workspace({**plan.status, "reason": "ResumeRequested"}, ttl="2d1h")
    plan = plan_workspace(resumed, {}, now=now, context=CONTEXT)
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Pending", "Resuming")


def test_a_running_workspace_whose_ttl_was_extended_keeps_running_past_the_old_expiry() -> None:
    ws = workspace(RUNNING, ttl="2d")
    plan = plan_workspace(
        ws, {0: running(ws.key())}, now=T0 + DAY + timedelta(hours=1), context=CONTEXT
    )
    assert plan.stops == []
    assert plan.due == T0 + 2 * DAY


def test_a_workspace_waiting_for_admission_expires_too() -> None:
    ws = workspace({"phase": "Pending", "reason": "Waiting"}, ttl="1h")
    before = plan_workspace(ws, {}, now=T0 + timedelta(minutes=59), context=CONTEXT)
    assert before.events == []
    assert before.due == T0 + timedelta(hours=1)
    plan = plan_workspace(ws, {}, now=T0 + timedelta(hours=1), context=CONTEXT)
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Paused", EXPIRED)


def test_a_workspace_paused_by_spec_shows_the_expiry_and_keeps_its_pause_once_extended() -> None:
    ws = workspace({"phase": "Paused", "reason": "Paused"}, ttl="1d", paused=True)
    expired = after(ws, plan_workspace(ws, {}, now=T0 + DAY, context=CONTEXT))
    assert expired.status["reason"] == EXPIRED
    extended = workspace(expired.status, ttl="3d", paused=True)
    plan = plan_workspace(extended, {}, now=T0 + 2 * DAY, context=CONTEXT)
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Paused", "Paused")


def test_without_a_ttl_there_is_no_expiry() -> None:
    ws = workspace({**RUNNING, "expiresAt": T0.isoformat()})  # its ttl was taken out
    plan = plan_workspace(ws, {0: running(ws.key())}, now=T0 + 400 * DAY, context=CONTEXT)
    assert plan.stops == []
    assert plan.status is not None
    assert "expiresAt" not in plan.status
    assert plan.due is None
