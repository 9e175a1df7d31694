"""Decisions every kind shares: deletion, terminal phases, and the status envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sapwood.schemas.status import Reason
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitState

PREEMPTED = Reason.PREEMPTED  # the status reason of one preempted back into the queue

TERMINAL = {"Succeeded", "Failed"}
# Phases that hold resources: admission counts them as allocated. Degraded: running, but
# missing something it needs (a Feed whose model does not exist).
HOLDING = {"Admitted", "Running", "Degraded"}


def plan_deletion(view: ObjectView, units: dict[int, UnitState]) -> Plan:
    """Stop every replica, forget them once gone, then remove the row."""
    plan = Plan()
    live = [u for u in units.values() if u.phase == "Running"]
    if live:
        plan.stops = [u.key for u in live]
        return plan
    plan.forgets = [u.key for u in units.values()]
    plan.remove = True
    plan.event("Deleted", f"{view.kind.lower()}/{view.name} deleted")
    return plan


def plan_settled(view: ObjectView, units: dict[int, UnitState]) -> Plan:
    """A finished or paused object keeps nothing running; exited records are dropped."""
    plan = Plan()
    plan.stops = [u.key for u in units.values() if u.phase == "Running"]
    plan.forgets = [u.key for u in units.values() if u.phase != "Running"]
    return plan


def with_phase(
    status: dict[str, Any],
    phase: str,
    *,
    now: datetime,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The status with a new phase; ``phaseSince`` moves only when the phase changes."""
    out = dict(status)
    if out.get("phase") != phase:
        out["phaseSince"] = now.isoformat()
    out["phase"] = phase
    for key, value in (("reason", reason), ("message", message)):
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
