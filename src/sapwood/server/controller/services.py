"""Services and workspaces: keep N replicas up, restart one replica alone with backoff."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sapwood.server.controller.admission import PREEMPTED, elastic_admitted
from sapwood.server.controller.backoff import HEALTHY_RESET, restart_delay
from sapwood.server.controller.idle import IdleDecision
from sapwood.server.controller.lifecycle import plan_deletion, plan_settled, with_phase
from sapwood.server.controller.model import ObjectView, Plan
from sapwood.server.controller.replicas import (
    ReplicaRecord,
    describe_exit,
    due,
    dump_records,
    load_records,
    new_exit,
    observed,
    run_id,
    running,
)
from sapwood.server.controller.rollout import SURGE, plan_rollout, wants_surge
from sapwood.server.controller.units import (
    CANARY_FIRST,
    UnitContext,
    UnitError,
    is_canary,
    unit_spec,
)
from sapwood.server.runtimes.base import UnitKey, UnitReason, UnitState
from sapwood.specs.objects import Service, Workspace
from sapwood.specs.paths import workspace_path
from sapwood.specs.probes import Backoff
from sapwood.specs.workloads import WorkspaceTool

IDLE_PAUSED = "IdlePaused"  # status reason and event of a workload paused for idleness
RESUME_REQUESTED = "ResumeRequested"  # status reason asking an idle-paused one to resume


@dataclass(frozen=True)
class Health:
    """What the prober last concluded about one run of one replica."""

    ready: bool = False
    live: bool = True
    message: str = ""


def plan_service(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    health: Mapping[UnitKey, Health],
    idle: IdleDecision | None = None,
) -> Plan:
    assert isinstance(view.obj, Service)
    if view.deletion_timestamp is not None:
        return plan_deletion(view, units)
    paused = _plan_paused(view, units, now=now, paused=view.obj.spec.paused)
    if paused is not None:
        return paused
    if view.phase == "Failed" or view.status.get("reason") == PREEMPTED:
        return plan_settled(view, units)
    if view.phase == "Pending":
        return Plan()
    if idle is not None and idle.idle and view.phase == "Running":
        return _idle_pause(view, units, now=now, message=idle.message)
    spec = view.obj.spec
    main = spec.replicas.min + elastic_admitted(view)
    indices = list(range(main))
    if wants_surge(view, units, indices):
        indices.append(SURGE)
    if spec.canary is not None and main > 0 and (spec.canary.weight > 0 or spec.canary.shadow):
        indices += [CANARY_FIRST + i for i in range(spec.canary.replicas)]
    return _keep_replicas(
        view,
        units,
        desired=indices,
        backoff=spec.backoff,
        now=now,
        context=context,
        health=health,
        readiness_probed=spec.readiness_probe() is not None,
    )


def plan_workspace(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    idle: IdleDecision | None = None,
) -> Plan:
    assert isinstance(view.obj, Workspace)
    if view.deletion_timestamp is not None:
        return plan_deletion(view, units)
    paused = _plan_paused(view, units, now=now, paused=view.obj.spec.paused)
    if paused is not None:
        return paused
    if view.phase == "Failed" or view.status.get("reason") == PREEMPTED:
        return plan_settled(view, units)
    if view.phase == "Pending":
        return Plan()
    if idle is not None and idle.idle and view.phase == "Running":
        return _idle_pause(view, units, now=now, message=idle.message)
    return _keep_replicas(
        view,
        units,
        desired=[0],
        backoff=Backoff(),
        now=now,
        context=context,
        health={},
        readiness_probed=False,
    )


def _plan_paused(
    view: ObjectView, units: dict[int, UnitState], *, now: datetime, paused: bool
) -> Plan | None:
    """Pausing by spec, staying paused, and resuming; None when none of these applies.

    A workload paused for idleness stays paused (reason IdlePaused) until a resume clears
    that reason; then, like one unpaused by spec, it queues for admission again.
    """
    noun = view.kind.lower()
    if paused:
        plan = plan_settled(view, units)
        if view.phase != "Paused" or view.status.get("reason") == IDLE_PAUSED:
            status = with_phase(view.status, "Paused", now=now, reason="Paused")
            plan.status = without_replicas(status)
            plan.event("Paused", f"{noun} paused; its volumes are kept")
        elif shows_replicas(view.status):  # written before pausing cleared them
            plan.status = without_replicas(view.status)
        return plan
    if view.phase == "Failed" and view.status.get("reason") == RESUME_REQUESTED:
        plan = plan_settled(view, units)
        status = with_phase(view.status, "Pending", now=now, reason="Resuming")
        plan.status = without_replicas(status)
        plan.event("Resuming", f"{noun} restarted after failing; waiting for admission")
        return plan
    if view.phase != "Paused":
        return None
    if view.status.get("reason") == IDLE_PAUSED:
        return plan_settled(view, units)
    status = with_phase(view.status, "Pending", now=now, reason="Resuming")
    plan = Plan(status=without_replicas(status))
    plan.event("Resuming", f"{noun} resumed; waiting for admission")
    return plan


# What a status says about replicas that run; none of it holds once they are stopped.
RUNNING_FIELDS = ("allocated", "endpoints", "canaryEndpoints", "url", "replicas")


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


def _idle_pause(
    view: ObjectView, units: dict[int, UnitState], *, now: datetime, message: str
) -> Plan:
    """Stop every replica and return the resources; the spec and volumes stay as they are."""
    plan = plan_settled(view, units)
    status = with_phase(view.status, "Paused", now=now, reason=IDLE_PAUSED, message=message)
    plan.status = without_replicas(status)
    plan.event(IDLE_PAUSED, f"{view.kind.lower()} paused: {message}; resume with `sapwood resume`")
    return plan


def _keep_replicas(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    desired: list[int],
    backoff: Backoff,
    now: datetime,
    context: UnitContext,
    health: Mapping[UnitKey, Health],
    readiness_probed: bool,
) -> Plan:
    plan = Plan()
    status = dict(view.status)
    records = load_records(status, desired)
    for index, record in records.items():
        records[index] = _supervise(
            view,
            record,
            units.get(index),
            plan,
            now=now,
            backoff=backoff,
            health=health,
            readiness_probed=readiness_probed,
        )
    for index, unit in units.items():
        if index not in records:  # scaled down
            plan.stops.append(unit.key) if running(unit) else plan.forgets.append(unit.key)
    rollout = plan_rollout(view, records, units, plan, now=now)

    for index, record in records.items():
        if (
            running(units.get(index))
            or index in {u.replica for u in plan.stops}
            or not due(record, now)
        ):
            continue
        try:
            plan.starts.append(unit_spec(view, index, context))
        except UnitError as exc:
            plan.status = with_phase(status, "Failed", now=now, reason=exc.reason, message=str(exc))
            plan.status.pop("allocated", None)
            plan.event(exc.reason, str(exc), warning=True)
            return plan
        records[index] = replace(record, state="Starting", ready=False)

    ready = sum(1 for r in records.values() if r.ready)
    status.update(
        replicas=dump_records(records),
        readyReplicas=ready,
        restarts=sum(r.restarts for r in records.values()),
    )
    main = [_address(r) for r in records.values() if r.ready and r.port and not is_canary(r.index)]
    canary = [_address(r) for r in records.values() if r.ready and r.port and is_canary(r.index)]
    if view.kind == "Service":
        status["desiredReplicas"] = len([i for i in desired if i != SURGE])
        if rollout is not None:
            status["rollout"] = rollout
        else:
            status.pop("rollout", None)
        status["endpoints"] = main
        if canary:
            status["canaryEndpoints"] = canary
        else:
            status.pop("canaryEndpoints", None)
    elif main:
        status["url"] = f"http://{main[0]}{_served_under(view)}"
    message = f"{ready}/{len([i for i in desired if i != SURGE])} replicas ready"
    plan.status = with_phase(status, "Running", now=now, message=message)
    return plan


def _served_under(view: ObjectView) -> str:
    """The path a workspace's replica serves: JupyterLab runs under its gateway path (its
    base URL), anything else at the root."""
    obj = view.obj
    if isinstance(obj, Workspace) and obj.spec.tool is WorkspaceTool.JUPYTER:
        return workspace_path(view.team, view.name)
    return "/"


def _address(record: ReplicaRecord) -> str:
    return f"{record.host or '127.0.0.1'}:{record.port}"


def _supervise(
    view: ObjectView,
    record: ReplicaRecord,
    unit: UnitState | None,
    plan: Plan,
    *,
    now: datetime,
    backoff: Backoff,
    health: Mapping[UnitKey, Health],
    readiness_probed: bool,
) -> ReplicaRecord:
    index = record.index
    exit = new_exit(unit, record)
    if unit is not None and exit is not None and _replaced(exit.reason, unit, view):
        # Stopped by a rollout: start the new generation at once, no backoff.
        return replace(
            record, state="Waiting", run=run_id(unit), next_start_at=None, pid=None, ready=False
        )
    if unit is not None and exit is not None:
        failures = record.backoff + 1
        delay = restart_delay(failures, backoff)
        next_start = now + delay
        plan.event(
            "OOMKilled" if exit.reason == UnitReason.OOM_KILLED else "BackOff",
            f"replica {index} {describe_exit(exit)}; restarting in {int(delay.total_seconds())}s",
            warning=True,
        )
        return replace(
            record,
            state="BackOff",
            run=run_id(unit),
            last_exit=exit,
            restarts=record.restarts + 1,
            backoff=failures,
            next_start_at=next_start.isoformat(),
            ready=False,
            pid=None,
        )
    if unit is None or not running(unit):
        return record
    record = observed(record, unit)
    if now - unit.started_at >= HEALTHY_RESET and record.backoff:
        record = replace(record, backoff=0)
    # Not probed yet: live, and ready only when there is no readiness probe to pass.
    verdict = health.get(unit.key, Health(ready=not readiness_probed))
    if not verdict.live:
        plan.stops.append(unit.key)
        plan.event("ProbeFailed", f"replica {index} liveness: {verdict.message}", warning=True)
        return replace(record, ready=False)
    if verdict.ready != record.ready and readiness_probed:
        plan.event(
            "Ready" if verdict.ready else "NotReady",
            f"replica {index} {'passed' if verdict.ready else 'failed'} readiness"
            + (f": {verdict.message}" if verdict.message else ""),
            warning=not verdict.ready,
        )
    return replace(record, ready=verdict.ready)


def _replaced(reason: str, unit: UnitState, view: ObjectView) -> bool:
    return reason == UnitReason.STOPPED and unit.generation != view.generation
