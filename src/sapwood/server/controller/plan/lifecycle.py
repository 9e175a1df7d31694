"""Decisions every kind shares: deletion, terminal phases, and the status envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sapwood.schemas.status import HOLDING_PHASES, TERMINAL_PHASES, Phase, Reason
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitPhase, UnitState

PREEMPTED = Reason.PREEMPTED.value  # the status reason of one preempted back into the queue

TERMINAL = TERMINAL_PHASES
# Phases that hold resources: admission counts them as allocated. Degraded: running, but
# missing something it needs (a Feed whose model does not exist).
HOLDING = HOLDING_PHASES


def plan_deletion(view: ObjectView, units: dict[int, UnitState]) -> Plan:
    """Stop every replica, forget them once gone, then remove the row."""
    plan = Plan()
    live = [u for u in units.values() if u.phase is UnitPhase.RUNNING]
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
    plan.stops = [u.key for u in units.values() if u.phase is UnitPhase.RUNNING]
    plan.forgets = [u.key for u in units.values() if u.phase is not UnitPhase.RUNNING]
    return plan


def with_phase(
    status: dict[str, Any],
    phase: Phase,
    *,
    now: datetime,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The status with a new phase; ``phaseSince`` moves only when the phase changes.

    The status stays plain JSON: the phase and reason are written as their text.
    """
    out = dict(status)
    if out.get("phase") != phase:
        out["phaseSince"] = now.isoformat()
    out["phase"] = phase.value
    for key, value in (("reason", reason), ("message", message)):
        if value is None:
            out.pop(key, None)
        else:
            out[key] = str(value)
    return out
