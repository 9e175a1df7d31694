"""Workspaces: one replica with its volumes, restarted in place, reached at its URL, paused
when idle or when its time to live runs out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sapwood.server.controller.plan.expiry import with_expiry
from sapwood.server.controller.plan.idle import IdleDecision
from sapwood.server.controller.plan.pausing import plan_held
from sapwood.server.controller.plan.policy import DefaultPolicy, PlanInputs
from sapwood.server.controller.plan.scheduler import Role
from sapwood.server.controller.plan.supervise import Serving, keep_replicas
from sapwood.server.controller.plan.units import UnitContext
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitState
from sapwood.specs.objects import Workspace
from sapwood.specs.paths import workspace_path
from sapwood.specs.probes import Backoff
from sapwood.specs.workloads import WorkspaceTool


def plan_workspace(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    idle: IdleDecision | None = None,
) -> Plan:
    """One pass for one Workspace: what to start or stop, and its next status (with
    ``expiresAt`` when it has a time to live, and the plan ``due`` then)."""
    return with_expiry(view, _plan(view, units, now=now, context=context, idle=idle), now=now)


def _plan(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    idle: IdleDecision | None,
) -> Plan:
    assert isinstance(view.obj, Workspace)
    held = plan_held(view, units, now=now, paused=view.obj.spec.paused, idle=idle)
    if held is not None:
        return held
    return keep_replicas(
        view,
        units,
        desired=[0],
        backoff=Backoff(),
        now=now,
        context=context,
        health={},
        readiness_probed=False,
        publish=_publish_url(served_under(view)),
    )


def served_under(view: ObjectView) -> str:
    """The path a workspace's replica serves: JupyterLab runs under its gateway path (its
    base URL), anything else at the root."""
    obj = view.obj
    if isinstance(obj, Workspace) and obj.spec.tool is WorkspaceTool.JUPYTER:
        return workspace_path(view.team, view.name)
    return "/"


def _publish_url(path: str) -> Callable[[dict[str, Any], Serving], None]:
    def publish(status: dict[str, Any], serving: Serving) -> None:
        if serving.main:
            status["url"] = f"http://{serving.main[0]}{path}"

    return publish


class WorkspacePolicy(DefaultPolicy):
    """Workspaces: one replica; never preempted unless its spec allows it."""

    kind = "Workspace"

    def plan(self, view: ObjectView, units: dict[int, UnitState], inputs: PlanInputs) -> Plan:
        return plan_workspace(view, units, now=inputs.now, context=inputs.context, idle=inputs.idle)

    def role(self, view: ObjectView) -> Role:
        assert isinstance(view.obj, Workspace)
        return Role.REGULAR if view.obj.spec.preemptible else Role.PROTECTED


WORKSPACE = WorkspacePolicy()
