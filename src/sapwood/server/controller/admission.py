"""Feeding the scheduler: requests from specs, the allocation held, statuses from decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sapwood.server.controller import scheduler
from sapwood.server.controller.lifecycle import HOLDING, with_phase
from sapwood.server.controller.model import EventNote, ObjectView
from sapwood.server.runtimes.base import Capacity, UnitPhase, UnitState
from sapwood.specs.objects import Job, Service
from sapwood.specs.quantity import format_cpu, format_memory


@dataclass(frozen=True)
class Admission:
    """A new status for a waiting object, and what to say about it."""

    status: dict[str, Any]
    notes: tuple[EventNote, ...] = ()


def replicas_of(view: ObjectView) -> int:
    if isinstance(view.obj, Job):
        return view.obj.spec.replicas
    if isinstance(view.obj, Service):
        return view.obj.spec.replicas.min
    return 1


def request_of(view: ObjectView) -> scheduler.Request:
    """Everything the object's replicas ask for together (a gang is admitted whole)."""
    resources = view.obj.spec.resources
    one = scheduler.Request(resources.cpu, resources.memory, resources.gpu)
    return one.times(replicas_of(view))


def decide(
    views: list[ObjectView],
    units: dict[tuple[str, str, str], dict[int, UnitState]],
    *,
    capacity: Capacity,
    now: datetime,
) -> dict[str, Admission]:
    """Admissions and waiting reasons for Pending objects, by uid."""
    allocated = scheduler.Request()
    waiting = []
    by_uid = {v.uid: v for v in views}
    for view in views:
        owned = units.get((view.kind, view.team, view.name), {})
        holding = view.phase in HOLDING or any(u.phase is UnitPhase.RUNNING for u in owned.values())
        if holding:
            allocated = allocated + request_of(view)
        elif view.phase == "Pending" and view.deletion_timestamp is None:
            ref = f"{view.kind.lower()}/{view.team}/{view.name}"
            waiting.append(scheduler.Waiting(view.uid, ref, request_of(view), view.created_at))
    total = scheduler.Request(capacity.cpu_millis, capacity.memory_bytes, capacity.gpus)
    out: dict[str, Admission] = {}
    for decision in scheduler.admit(waiting, capacity=total, allocated=allocated):
        view = by_uid[decision.uid]
        if isinstance(decision, scheduler.Admitted):
            request = request_of(view)
            status = with_phase(view.status, "Admitted", now=now, reason="Admitted")
            status["admittedAt"] = now.isoformat()
            status["allocated"] = {
                "cpu": format_cpu(request.cpu_millis),
                "memory": format_memory(request.memory_bytes),
                "gpu": request.gpus,
            }
            held = status["allocated"]
            gpus = f", gpu {held['gpu']}" if held["gpu"] else ""
            note = EventNote(
                "Admitted", f"admitted: cpu {held['cpu']}, memory {held['memory']}{gpus}"
            )
            out[view.uid] = Admission(status, (note,))
        elif view.status.get("message") != decision.reason:
            status = with_phase(
                view.status, "Pending", now=now, reason="Waiting", message=decision.reason
            )
            out[view.uid] = Admission(status)
    return out
