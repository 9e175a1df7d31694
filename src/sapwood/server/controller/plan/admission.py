"""Between objects and the scheduler: workloads from specs, statuses from decisions.

Each object is one gang: a Job's replicas, a Service's ``replicas.min``, a Workspace.
A Service's replicas above ``min`` are elastic workloads of one replica each: they use
idle capacity and are the first to go when anything else needs room. A rolling update's
extra replica (the surge) holds room like any replica while it runs, so nothing else is
admitted into the room it uses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sapwood.schemas.status import Phase, Reason
from sapwood.server.controller.plan import scheduler
from sapwood.server.controller.plan.kinds import policy_for
from sapwood.server.controller.plan.lifecycle import HOLDING, PREEMPTED, with_phase
from sapwood.server.controller.plan.policy import elastic_admitted as policy_elastic_admitted
from sapwood.server.controller.plan.rollout import SURGE
from sapwood.server.controller.plan.scheduler import Placed, Resources, Role, Workload
from sapwood.server.controller.plan.view import EventNote, ObjectView
from sapwood.server.units import Capacity, UnitPhase, UnitState
from sapwood.specs.quantity import format_cpu, format_memory

LOCAL_NODE = "local"
Units = Mapping[tuple[str, str, str], Mapping[int, UnitState]]


@dataclass(frozen=True)
class Admission:
    """A new status for an object, and what to say about it."""

    status: dict[str, Any]
    notes: tuple[EventNote, ...] = ()


@dataclass(frozen=True)
class Inputs:
    """What the scheduler is told besides the objects."""

    capacity: Capacity
    quotas: Mapping[str, scheduler.Quota]
    priorities: Mapping[str, int]
    policy: scheduler.Policy


def base_replicas(view: ObjectView) -> int:
    """How many replicas are admitted together, as one gang (the kind's policy says)."""
    return policy_for(view.kind).base_replicas(view)


def elastic_limit(view: ObjectView) -> int:
    """How many elastic replicas the object may have above ``base_replicas``."""
    return policy_for(view.kind).elastic_limit(view)


def elastic_admitted(view: ObjectView) -> int:
    return policy_elastic_admitted(view, elastic_limit(view))


def _replica(view: ObjectView) -> Resources:
    r = view.obj.spec.resources
    return Resources(r.cpu, r.memory, r.gpu)


def _role(view: ObjectView) -> Role:
    return policy_for(view.kind).role(view)


def _started(view: ObjectView) -> datetime | None:
    value = view.status.get("admittedAt")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _surging(view: ObjectView, owned: Mapping[int, UnitState]) -> int:
    """1 while a rolling update runs its extra replica, else 0."""
    surge = owned.get(SURGE)
    surges = policy_for(view.kind).surges
    return int(surges and surge is not None and surge.phase is UnitPhase.RUNNING)


def attained_s(view: ObjectView, now: datetime) -> float:
    """Service received so far: GPU-seconds, or CPU-seconds for work without GPUs, over
    every run (earlier runs are summed in status.attainedSeconds when preempted)."""
    total = float(view.status.get("attainedSeconds", 0.0))
    started = _started(view)
    if started is not None and view.phase in HOLDING:
        r = view.obj.spec.resources
        width = r.gpu if r.gpu else r.cpu / 1000
        total += max(0.0, (now - started).total_seconds()) * width * base_replicas(view)
    return total


Memo = dict[tuple[str, int], Workload]
"""Waiting objects' workloads by (uid, resourceVersion): what a waiting object asks for
changes only with the object, so a cycle over thousands of them converts only the new."""


def workloads(
    views: list[ObjectView],
    units: Units,
    priorities: Mapping[str, int],
    now: datetime,
    *,
    memo: Memo | None = None,
    parked: Collection[str] = (),
) -> tuple[list[Workload], list[Placed]]:
    """The scheduler's view: what waits, and what holds capacity where. Waiting objects
    in ``parked`` are left out (they cannot fit until capacity changes)."""
    pending: list[Workload] = []
    running: list[Placed] = []
    for view in views:
        owned = units.get((view.kind, view.team, view.name), {})
        live = any(u.phase is UnitPhase.RUNNING for u in owned.values())
        if not live and view.phase not in HOLDING:
            waiting = view.phase == Phase.PENDING and view.deletion_timestamp is None
            if waiting and view.uid not in parked:
                key = (view.uid, view.resource_version)
                cached = memo.get(key) if memo is not None else None
                if cached is None:
                    cached = _workload(view, priorities, now)
                    if memo is not None:
                        memo[key] = cached
                pending.append(cached)
            continue
        base = _workload(view, priorities, now)
        held = replace(base, count=base.count + _surging(view, owned))
        running.append(Placed(held, (LOCAL_NODE,) * held.count, _started(view)))
        if view.phase not in HOLDING or view.deletion_timestamp is not None:
            continue
        ref, priority = base.ref, base.priority
        for extra in range(elastic_limit(view)):
            elastic = Workload(
                uid=f"{view.uid}#{extra}",
                ref=f"{ref} (elastic replica {base.count + extra})",
                team=view.team,
                priority=priority,
                replica=base.replica,
                queued_at=view.created_at,
                role=Role.ELASTIC,
                node_selector=view.obj.spec.node_selector,
                gpu_model=view.obj.spec.resources.gpu_model,
            )
            if extra < elastic_admitted(view):
                running.append(Placed(elastic, (LOCAL_NODE,), _started(view)))
            else:
                pending.append(elastic)
    return pending, running


def _workload(view: ObjectView, priorities: Mapping[str, int], now: datetime) -> Workload:
    return Workload(
        uid=view.uid,
        ref=f"{view.kind.lower()}/{view.team}/{view.name}",
        team=view.team,
        priority=priorities.get(view.obj.spec.priority, 0),
        replica=_replica(view),
        count=base_replicas(view),
        queued_at=view.created_at,
        role=_role(view),
        node_selector=view.obj.spec.node_selector,
        gpu_model=view.obj.spec.resources.gpu_model,
        attained_s=attained_s(view, now),
    )


@dataclass(frozen=True)
class Decided:
    """A cycle's outcome: new statuses by uid, and the waiting objects that fit nowhere
    at this capacity (the caller may park them until capacity changes)."""

    admissions: dict[str, Admission]
    impossible: frozenset[str]


def decide(
    views: list[ObjectView],
    units: Units,
    *,
    inputs: Inputs,
    now: datetime,
    memo: Memo | None = None,
    parked: Collection[str] = (),
) -> Decided:
    """New statuses, by uid, for objects admitted, preempted, grown, shrunk or waiting.

    Objects in ``parked`` are left out of the cycle: they were found to fit nowhere at
    this same capacity, and their status already says so."""
    pending, running = workloads(views, units, inputs.priorities, now, memo=memo, parked=parked)
    cap = inputs.capacity
    node = scheduler.Node(LOCAL_NODE, Resources(cap.cpu_millis, cap.memory_bytes, cap.gpus))
    decisions = scheduler.schedule(
        pending, running, [node], inputs.quotas, now=now, policy=inputs.policy
    )
    by_uid = {v.uid: v for v in views}
    out: dict[str, Admission] = {}
    for view in views:
        # Started by a pass whose status write was lost (stale, or a crash): adopt it.
        owned = units.get((view.kind, view.team, view.name), {})
        live = any(u.phase is UnitPhase.RUNNING for u in owned.values())
        if view.phase == Phase.PENDING and live and view.status.get("reason") != PREEMPTED:
            out[view.uid] = _admitted(view, now)
    elastic_delta: dict[str, int] = {}
    for admit in decisions.admit:
        uid, _, extra = admit.uid.partition("#")
        if extra:
            elastic_delta[uid] = elastic_delta.get(uid, 0) + 1
        else:
            out[uid] = _admitted(by_uid[uid], now)
    takers: dict[str, set[str]] = {}
    for preempt in decisions.preempt:
        uid, _, extra = preempt.uid.partition("#")
        if extra:
            elastic_delta[uid] = elastic_delta.get(uid, 0) - 1
            taker = by_uid.get(preempt.by.partition("#")[0])
            if taker is not None:
                takers.setdefault(uid, set()).add(f"{taker.kind.lower()}/{taker.team}/{taker.name}")
        else:
            out[uid] = _preempted(by_uid[uid], preempt.reason, now)
    for uid, delta in elastic_delta.items():
        view = by_uid[uid]
        status = dict(out[uid].status if uid in out else view.status)
        status["elasticReplicas"] = max(0, elastic_admitted(view) + delta)
        verb = "grows" if delta > 0 else "shrinks"
        why = "on idle capacity"
        if delta < 0:
            why = "to make room for " + ", ".join(sorted(takers.get(uid, {"other work"})))
        count = base_replicas(view) + status["elasticReplicas"]
        note = EventNote(
            "Scaled" if delta > 0 else PREEMPTED, f"{verb} to {count} replicas {why}", delta < 0
        )
        out[uid] = Admission(status, (*(out[uid].notes if uid in out else ()), note))
    for wait in decisions.wait:
        uid = wait.uid.partition("#")[0]
        view = by_uid[uid]
        if "#" in wait.uid or uid in out:
            continue
        # No place in line for what fits nowhere: it waits for more capacity, not a turn.
        position = None if wait.impossible else wait.position
        same = view.status.get("message") == wait.reason
        if not same or view.status.get("queuePosition") != position:
            reason = view.status.get("reason") or "Waiting"
            status = with_phase(
                view.status, Phase.PENDING, now=now, reason=reason, message=wait.reason
            )
            status.pop("queuePosition", None)
            if position is not None:
                status["queuePosition"] = position
            out[uid] = Admission(status)
    impossible = frozenset(w.uid for w in decisions.wait if w.impossible and "#" not in w.uid)
    return Decided(out, impossible)


def _admitted(view: ObjectView, now: datetime) -> Admission:
    r = view.obj.spec.resources
    count = base_replicas(view)
    status = with_phase(view.status, Phase.ADMITTED, now=now, reason=Reason.ADMITTED)
    status.pop("queuePosition", None)
    status["admittedAt"] = now.isoformat()
    status["allocated"] = {
        "cpu": format_cpu(r.cpu * count),
        "memory": format_memory(r.memory * count),
        "gpu": r.gpu * count,
    }
    held = status["allocated"]
    gpus = f", gpu {held['gpu']}" if held["gpu"] else ""
    note = EventNote(Reason.ADMITTED, f"admitted: cpu {held['cpu']}, memory {held['memory']}{gpus}")
    return Admission(status, (note,))


def _preempted(view: ObjectView, reason: str, now: datetime) -> Admission:
    status = with_phase(view.status, Phase.PENDING, now=now, reason=PREEMPTED, message=reason)
    status["attainedSeconds"] = round(attained_s(view, now), 3)
    for key in ("allocated", "admittedAt", "elasticReplicas"):
        status.pop(key, None)
    return Admission(status, (EventNote(PREEMPTED, f"{reason}; back in the queue", warning=True),))
