"""Between the autoscaler and the objects: each autoscaled Service's decision, in its status.

The decision lands in ``status.autoscaler`` before admission runs, so admission offers
the scheduler exactly the elastic replicas the autoscaler wants (see
``admission.elastic_limit``); the scheduler still places them only on idle capacity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime

from sapwood.server.controller.plan import autoscaler
from sapwood.server.controller.plan.admission import base_replicas, elastic_admitted
from sapwood.server.controller.plan.kinds import policy_for
from sapwood.server.controller.plan.lifecycle import HOLDING
from sapwood.server.controller.plan.pausing import IDLE_PAUSED, RESUME_REQUESTED
from sapwood.server.controller.plan.view import EventNote, ObjectView
from sapwood.server.units import Capacity
from sapwood.specs.objects import Service

ServiceKey = tuple[str, str]  # (team, name)
Loads = Mapping[ServiceKey, autoscaler.Load]
LoadSource = Callable[[], Awaitable[Loads | None]]
"""Asks the gateway for recent load; None when it cannot be reached."""


def autoscaled(view: ObjectView) -> bool:
    return isinstance(view.obj, Service) and view.obj.spec.autoscale is not None


def wants_load(view: ObjectView) -> bool:
    """Whether a pass needs the gateway's figures for this object: to scale it, to tell
    whether it is idle, or to wake it for a request the gateway holds."""
    return policy_for(view.kind).wants_load(view)


def last_requests(loads: Loads | None) -> dict[ServiceKey, datetime] | None:
    """When each service last had a request; None when the gateway's figures are unknown."""
    if loads is None:
        return None
    return {k: v.last_request_at for k, v in loads.items() if v.last_request_at is not None}


def wake_held(views: list[ObjectView], loads: Loads | None) -> list[ObjectView]:
    """An idle-paused service with a request held at the gateway asks to resume."""
    out = []
    for view in views:
        load = (loads or {}).get((view.team, view.name))
        held = load is not None and load.held > 0
        if held and view.status.get("reason") == IDLE_PAUSED and wants_load(view):
            status = {
                **view.status,
                "reason": RESUME_REQUESTED,
                "message": "a request is waiting at the gateway",
            }
            view = replace(view, status=status)
        out.append(view)
    return out


def scale(
    views: list[ObjectView],
    loads: Loads | None,
    capacity: Capacity,
    *,
    now: datetime,
) -> tuple[list[ObjectView], dict[str, EventNote]]:
    """Views with fresh autoscaler decisions, and a note for each service whose target moved."""
    free = _free(views, capacity)
    out: list[ObjectView] = []
    notes: dict[str, EventNote] = {}
    for view in views:
        spec = view.obj.spec if isinstance(view.obj, Service) else None
        if spec is None or spec.autoscale is None or view.phase not in HOLDING:
            out.append(view)
            continue
        if view.deletion_timestamp is not None:
            out.append(view)
            continue
        previous = autoscaler.ScaleState.from_dict(view.status.get("autoscaler"), spec.replicas.min)
        current = spec.replicas.min + elastic_admitted(view)
        bounds = autoscaler.Bounds(
            minimum=spec.replicas.min,
            maximum=spec.replicas.max,
            ready=int(view.status.get("readyReplicas", 0)),
            current=current,
            room=_room(free, view),
        )
        load = None if loads is None else loads.get((view.team, view.name), autoscaler.Load(()))
        decision = autoscaler.decide(load, spec.autoscale, bounds, previous, now=now)
        status = {**view.status, "autoscaler": decision.state.to_dict(decision.reason)}
        if decision.desired != previous.desired:
            verb = "up" if decision.desired > previous.desired else "down"
            notes[view.uid] = EventNote(
                "Autoscaled", f"scales {verb} to {decision.desired} replicas: {decision.reason}"
            )
        out.append(replace(view, status=status))
    return out, notes


def _free(views: list[ObjectView], capacity: Capacity) -> tuple[int, int, int]:
    cpu, memory, gpu = capacity.cpu_millis, capacity.memory_bytes, capacity.gpus
    for view in views:
        if view.phase not in HOLDING:
            continue
        count = base_replicas(view) + elastic_admitted(view)
        r = view.obj.spec.resources
        cpu, memory, gpu = cpu - r.cpu * count, memory - r.memory * count, gpu - r.gpu * count
    return max(cpu, 0), max(memory, 0), max(gpu, 0)


def _room(free: tuple[int, int, int], view: ObjectView) -> int:
    r = view.obj.spec.resources
    fits = [have // need for have, need in zip(free, (r.cpu, r.memory, r.gpu), strict=True) if need]
    return min(fits) if fits else 1_000_000
