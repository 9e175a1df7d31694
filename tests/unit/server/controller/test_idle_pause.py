"""plan_workspace and plan_service with an idle decision: pause, stay paused, resume."""

from __future__ import annotations

from sapwood.server.controller.plan.idle import IdleDecision
from sapwood.server.controller.plan.pausing import IDLE_PAUSED
from sapwood.server.controller.plan.service import plan_service
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.controller.plan.workspace import plan_workspace
from tests.unit.server.controller.views import CONTEXT, T0, after, reasons, running, view

IDLE = IdleDecision(True, "no activity for 2h (utilisation)")
ACTIVE = IdleDecision(False, "utilisation: active")
RUNNING = {"phase": "Running", "allocated": {"cpu": 500}, "url": "http://127.0.0.1:1/"}


def workspace(status: dict[str, object], **spec: object) -> ObjectView:
    return view("Workspace", "lab", status=dict(status), tool="command", command=["sleep"], **spec)


def test_an_idle_running_workspace_is_paused_and_its_resources_returned() -> None:
    ws = workspace(RUNNING)
    units = {0: running(ws.key())}
    plan = plan_workspace(ws, units, now=T0, context=CONTEXT, idle=IDLE)
    assert plan.stops == [ws.key()]
    assert plan.status is not None
    assert plan.status["phase"] == "Paused"
    assert plan.status["reason"] == IDLE_PAUSED
    assert "allocated" not in plan.status
    assert "url" not in plan.status
    assert reasons(plan) == [IDLE_PAUSED]
    assert "no activity for 2h" in plan.events[0].message


def test_an_active_workspace_keeps_running() -> None:
    ws = workspace(RUNNING)
    units = {0: running(ws.key())}
    plan = plan_workspace(ws, units, now=T0, context=CONTEXT, idle=ACTIVE)
    assert plan.stops == []
    assert plan.status is not None
    assert plan.status["phase"] == "Running"


def test_idle_paused_stays_paused_until_resumed() -> None:
    ws = workspace(RUNNING)
    units = {0: running(ws.key())}
    paused = after(ws, plan_workspace(ws, units, now=T0, context=CONTEXT, idle=IDLE))
    again = plan_workspace(paused, {}, now=T0, context=CONTEXT)
    assert again.status is None
    assert again.starts == []
    assert again.events == []
    # The resume API changes the reason; the next pass queues it for admission.
    resumed = view(
        "Workspace",
        "lab",
        status={**paused.status, "reason": "ResumeRequested"},
        tool="command",
        command=["sleep"],
    )
    plan = plan_workspace(resumed, {}, now=T0, context=CONTEXT)
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Pending", "Resuming")
    assert reasons(plan) == ["Resuming"]


def test_pausing_an_idle_paused_workspace_by_spec_turns_it_into_a_plain_pause() -> None:
    ws = workspace({"phase": "Paused", "reason": IDLE_PAUSED}, paused=True)
    plan = plan_workspace(ws, {}, now=T0, context=CONTEXT)
    assert plan.status is not None
    assert plan.status["reason"] == "Paused"


def test_a_service_pauses_by_spec_and_when_idle() -> None:
    svc = view("Service", "web", status=dict(RUNNING), command=["serve"], replicas=2)
    units = {i: running(svc.key(i)) for i in range(2)}
    idle = plan_service(svc, units, now=T0, context=CONTEXT, health={}, idle=IDLE)
    assert sorted(idle.stops) == [svc.key(0), svc.key(1)]
    assert idle.status is not None
    assert idle.status["reason"] == IDLE_PAUSED
    by_spec = view("Service", "web", status=dict(RUNNING), command=["serve"], paused=True)
    plan = plan_service(by_spec, units, now=T0, context=CONTEXT, health={})
    assert plan.status is not None
    assert plan.status["phase"] == "Paused"
    assert reasons(plan) == ["Paused"]
