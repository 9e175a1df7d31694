"""Keeping N replicas of a long-running workload up: each replica restarts alone with
backoff, follows its probes' verdicts, and a rollout replaces old ones one at a time.

Shared by Services, Workspaces and Feeds; what each kind publishes about its ready
replicas (endpoints, a URL) is the caller's ``publish``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sapwood.schemas.status import Phase
from sapwood.server.controller.plan.backoff import HEALTHY_RESET, restart_delay
from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.lifecycle import with_phase
from sapwood.server.controller.plan.replicas import (
    ReplicaRecord,
    ReplicaState,
    describe_exit,
    due,
    dump_records,
    load_records,
    new_exit,
    observed,
    run_id,
    running,
)
from sapwood.server.controller.plan.rollout import SURGE, plan_rollout
from sapwood.server.controller.plan.units import UnitContext, UnitError, is_canary, unit_spec
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitKey, UnitReason, UnitState
from sapwood.specs.probes import Backoff


@dataclass(frozen=True)
class Serving:
    """What a pass found serving: the addresses of ready replicas, and the rollout."""

    main: list[str]  # host:port of ready main replicas
    canary: list[str]  # host:port of ready canary replicas
    desired: int  # replicas wanted, the surge not counted
    rollout: dict[str, Any] | None  # status.rollout; None when no rollout runs


Publish = Callable[[dict[str, Any], Serving], None]
"""Writes what a kind tells others about its serving replicas into the status."""


def keep_replicas(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    desired: list[int],
    backoff: Backoff,
    now: datetime,
    context: UnitContext,
    health: Mapping[UnitKey, Health],
    readiness_probed: bool,
    publish: Publish | None = None,
) -> Plan:
    """Starts, restarts and stops replicas so that those in ``desired`` run; the status
    lists them, counts the ready ones, and is Running (Failed when no unit can be made)."""
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
            plan.status = with_phase(
                status, Phase.FAILED, now=now, reason=exc.reason, message=str(exc)
            )
            plan.status.pop("allocated", None)
            plan.event(exc.reason, str(exc), warning=True)
            return plan
        records[index] = replace(record, state=ReplicaState.STARTING.value, ready=False)

    ready = sum(1 for r in records.values() if r.ready)
    status.update(
        replicas=dump_records(records),
        readyReplicas=ready,
        restarts=sum(r.restarts for r in records.values()),
    )
    wanted = len([i for i in desired if i != SURGE])
    if publish is not None:
        main = [
            address(r) for r in records.values() if r.ready and r.port and not is_canary(r.index)
        ]
        canary = [address(r) for r in records.values() if r.ready and r.port and is_canary(r.index)]
        publish(status, Serving(main, canary, wanted, rollout))
    message = f"{ready}/{wanted} replicas ready"
    plan.status = with_phase(status, Phase.RUNNING, now=now, message=message)
    return plan


def address(record: ReplicaRecord) -> str:
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
            record,
            state=ReplicaState.WAITING.value,
            run=run_id(unit),
            next_start_at=None,
            pid=None,
            ready=False,
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
            state=ReplicaState.BACK_OFF.value,
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
    if unit.reason:
        # Running but unwell by the runtime's own account (its node stopped reporting, its
        # volume cannot attach, no node fits it): no traffic, whatever the probes said last.
        lost = unit.reason == UnitReason.NODE_LOST
        if lost:
            # Replace it elsewhere: the runtime's stop force-deletes the pod after its grace.
            plan.stops.append(unit.key)
        if record.ready:
            detail = f": {unit.message}" if unit.message else ""
            then = "; replacing it" if lost else ""
            plan.event("NotReady", f"replica {index} {unit.reason}{detail}{then}", warning=True)
        return replace(record, ready=False)
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
