"""What keeps a long-running workload (Service, Workspace, Feed) from running: deletion,
pausing (by spec, for idleness or at the end of its time to live), resuming, failure,
preemption, waiting for admission.

``plan_held`` is the part of a long-running kind's plan that comes before keeping its
replicas up; it returns None when the workload should run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sapwood.schemas.status import Phase, Reason
from sapwood.server.controller.plan.expiry import EXPIRED, expiry_message, ttl_of
from sapwood.server.controller.plan.idle import IdleDecision
from sapwood.server.controller.plan.lifecycle import (
    PREEMPTED,
    plan_deletion,
    plan_settled,
    with_phase,
)
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitState

IDLE_PAUSED = "IdlePaused"  # status reason and event of a workload paused for idleness
RESUME_REQUESTED = "ResumeRequested"  # status reason asking an idle-paused one to resume
# Reasons of a pause the controller made on its own: it lasts until a resume clears the
# reason (for an expired workspace, once its time to live was extended).
CONTROLLER_PAUSES = frozenset({IDLE_PAUSED, EXPIRED})

# What a status says about replicas that run; none of it holds once they are stopped.
RUNNING_FIELDS = ("allocated", "endpoints", "canaryEndpoints", "url", "replicas")


def plan_held(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    paused: bool,
    idle: IdleDecision | None = None,
) -> Plan | None:
    """The plan of a workload that must not run its replicas now; None when it should.

    ``paused`` is the spec's pause; ``idle`` the utilisation monitor's verdict, if any. A
    workload whose time to live has run out is paused whatever else holds.
    """
    if view.deletion_timestamp is not None:
        return plan_deletion(view, units)
    expired = plan_expired(view, units, now=now)
    if expired is not None:
        return expired
    held = plan_paused(view, units, now=now, paused=paused)
    if held is not None:
        return held
    if view.phase == Phase.FAILED or view.status.get("reason") == PREEMPTED:
        return plan_settled(view, units)
    if view.phase == Phase.PENDING:
        return Plan()
    if idle is not None and idle.idle and view.phase == Phase.RUNNING:
        return idle_pause(view, units, now=now, message=idle.message)
    return None


def plan_paused(
    view: ObjectView, units: dict[int, UnitState], *, now: datetime, paused: bool
) -> Plan | None:
    """Pausing by spec, staying paused, and resuming; None when none of these applies.

    A workload paused for idleness or at expiry stays paused (reason IdlePaused, Expired)
    until a resume clears that reason; then, like one unpaused by spec, it queues for
    admission again.
    """
    noun = view.kind.lower()
    if paused:
        plan = plan_settled(view, units)
        if view.phase != Phase.PAUSED or view.status.get("reason") in CONTROLLER_PAUSES:
            status = with_phase(view.status, Phase.PAUSED, now=now, reason=Reason.PAUSED)
            plan.status = without_replicas(status)
            plan.event(Reason.PAUSED, f"{noun} paused; its volumes are kept")
        elif shows_replicas(view.status):  # written before pausing cleared them
            plan.status = without_replicas(view.status)
        return plan
    if view.phase == Phase.FAILED and view.status.get("reason") == RESUME_REQUESTED:
        plan = plan_settled(view, units)
        status = with_phase(view.status, Phase.PENDING, now=now, reason="Resuming")
        plan.status = without_replicas(status)
        plan.event("Resuming", f"{noun} restarted after failing; waiting for admission")
        return plan
    if view.phase != Phase.PAUSED:
        return None
    if view.status.get("reason") in CONTROLLER_PAUSES:
        return plan_settled(view, units)
    status = with_phase(view.status, Phase.PENDING, now=now, reason="Resuming")
    plan = Plan(status=without_replicas(status))
    plan.event("Resuming", f"{noun} resumed; waiting for admission")
    return plan


def plan_expired(view: ObjectView, units: dict[int, UnitState], *, now: datetime) -> Plan | None:
    """Pausing at the end of the time to live, and staying paused while it is over; None
    while it lasts (or there is none). Like an idle pause, the spec and volumes stay."""
    ttl = ttl_of(view)
    if ttl is None or now < view.created_at + ttl:
        return None
    expires = view.created_at + ttl
    plan = plan_settled(view, units)
    if view.phase != Phase.PAUSED or view.status.get("reason") != EXPIRED:
        message = expiry_message(ttl, expires)
        status = with_phase(view.status, Phase.PAUSED, now=now, reason=EXPIRED, message=message)
        plan.status = without_replicas(status)
        plan.event(EXPIRED, f"{view.kind.lower()} paused: {message}")
    elif shows_replicas(view.status):
        plan.status = without_replicas(view.status)
    return plan


def without_replicas(status: dict[str, Any]) -> dict[str, Any]:
    """The status of a workload whose replicas are all stopped (paused, or waiting to be
    admitted again): no replica listed, none ready, no endpoint for the gateway, nothing
    allocated. Pure."""
    out = {k: v for k, v in status.items() if k not in RUNNING_FIELDS}
    out["readyReplicas"] = 0
    return out


def shows_replicas(status: Mapping[str, Any]) -> bool:
    """Whether a status still lists replicas, endpoints or ready ones."""
    return any(k in status for k in RUNNING_FIELDS) or bool(status.get("readyReplicas"))


def idle_pause(
    view: ObjectView, units: dict[int, UnitState], *, now: datetime, message: str
) -> Plan:
    """Stop every replica and return the resources; the spec and volumes stay as they are."""
    plan = plan_settled(view, units)
    status = with_phase(view.status, Phase.PAUSED, now=now, reason=IDLE_PAUSED, message=message)
    plan.status = without_replicas(status)
    plan.event(IDLE_PAUSED, f"{view.kind.lower()} paused: {message}; resume with `sapwood resume`")
    return plan
