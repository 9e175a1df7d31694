"""Jobs: run replicas to completion, retry failures with backoff, honour the deadline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sapwood.schemas.status import Phase, Reason
from sapwood.server.controller.plan.backoff import restart_delay
from sapwood.server.controller.plan.gang import DEFAULT_MASTER_PORT, master_port
from sapwood.server.controller.plan.lifecycle import (
    PREEMPTED,
    TERMINAL,
    plan_deletion,
    plan_settled,
    with_phase,
)
from sapwood.server.controller.plan.policy import DefaultPolicy, PlanInputs
from sapwood.server.controller.plan.replicas import (
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
from sapwood.server.controller.plan.reruns import awaiting_first_start
from sapwood.server.controller.plan.units import UnitContext, UnitError, unit_spec
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitReason, UnitState
from sapwood.specs.objects import Job
from sapwood.specs.workloads import RestartPolicy

# Exits that retrying cannot fix.
PERMANENT = {UnitReason.COMMAND_NOT_FOUND.value}


def plan_job(
    view: ObjectView, units: dict[int, UnitState], *, now: datetime, context: UnitContext
) -> Plan:
    """One pass for one Job: what to start or stop, and its next status."""
    assert isinstance(view.obj, Job)
    if view.deletion_timestamp is not None:
        return plan_deletion(view, units)
    if view.phase in TERMINAL:
        return plan_settled(view, units)
    if view.phase == Phase.PENDING:
        # Preempted: its replicas stop and it waits to be admitted again, from scratch.
        return plan_settled(view, units) if view.status.get("reason") == PREEMPTED else Plan()
    if awaiting_first_start(view.status) and units:
        return plan_settled(view, units)  # an earlier run's units go first
    spec = view.obj.spec
    plan = Plan()
    status = dict(view.status)
    records = load_records(status, spec.replicas)
    succeeded = int(status.get("succeeded", 0))
    failures = int(status.get("failures", 0))
    completions = spec.completions or spec.replicas
    failed: tuple[str, str] | None = None

    for index, record in records.items():
        unit = units.get(index)
        exit = new_exit(unit, record)
        if unit is not None and exit is not None:
            record = replace(record, run=run_id(unit), last_exit=exit, pid=None, ready=False)
            message = f"replica {index} {describe_exit(exit)}"
            if exit.reason == UnitReason.COMPLETED:
                succeeded += 1
                record = replace(record, state=ReplicaState.SUCCEEDED.value, next_start_at=None)
                plan.event("Completed", f"replica {index} completed")
            elif exit.reason in PERMANENT:
                failed = (exit.reason, message)
            else:
                failures += 1
                allowed = spec.retries if spec.restart is RestartPolicy.ON_FAILURE else 0
                if failures > allowed:
                    failed = ("BackoffLimitExceeded", f"{message}; retries allowed: {allowed}")
                else:
                    delay = restart_delay(failures, spec.backoff)
                    record = replace(
                        record,
                        state=ReplicaState.BACK_OFF.value,
                        restarts=record.restarts + 1,
                        next_start_at=(now + delay).isoformat(),
                    )
                    reason = "OOMKilled" if exit.reason == UnitReason.OOM_KILLED else "BackOff"
                    wait = int(delay.total_seconds())
                    retry = f"retry {failures} of {allowed} in {wait}s"
                    plan.event(reason, f"{message}; {retry}", warning=True)
        elif running(unit) and unit is not None:
            record = observed(record, unit)
        records[index] = record

    started_at = status.get("startedAt")
    deadline = spec.active_deadline
    overdue = (
        deadline is not None
        and started_at is not None
        and (now - datetime.fromisoformat(started_at) >= deadline)
    )
    if failed is None and overdue and deadline is not None:
        failed = (
            "DeadlineExceeded",
            f"ran longer than activeDeadline {int(deadline.total_seconds())}s",
        )

    status.update(succeeded=succeeded, failures=failures, replicas=dump_records(records))
    status["restarts"] = sum(r.restarts for r in records.values())
    if failed is not None:
        reason, message = failed
        plan.stops = [u.key for u in units.values() if running(u)]
        plan.status = _finish(status, Phase.FAILED, now=now, reason=reason, message=message)
        plan.event(reason, message, warning=True)
        return plan
    if succeeded >= completions:
        plan.stops = [u.key for u in units.values() if running(u)]
        plan.status = _finish(status, Phase.SUCCEEDED, now=now, reason="Completed", message=None)
        plan.event(Reason.SUCCEEDED, f"{succeeded} of {completions} completion(s) done")
        return plan

    active = sum(1 for u in units.values() if running(u))
    for index, record in records.items():
        if active >= completions - succeeded:
            break
        if running(units.get(index)) or not due(record, now):
            continue
        if spec.replicas > 1 and master_port(status) is None:
            try:
                status["masterPort"] = (
                    DEFAULT_MASTER_PORT
                    if context.runs_images
                    else context.pick_ports(spec.replicas)
                )
            except OSError as exc:  # nothing free right now: the next pass tries again
                plan.event("StartDelayed", f"no ports for the gang: {exc}", warning=True)
                break
        try:
            plan.starts.append(unit_spec(replace(view, status=status), index, context))
        except UnitError as exc:
            plan.status = _finish(
                status, Phase.FAILED, now=now, reason=exc.reason, message=str(exc)
            )
            plan.event(exc.reason, str(exc), warning=True)
            return plan
        records[index] = replace(record, state=ReplicaState.STARTING.value)
        active += 1
    status["replicas"] = dump_records(records)
    if plan.starts and not started_at:
        status["startedAt"] = now.isoformat()
    anything_running = active > 0 or any(r.state == ReplicaState.BACK_OFF for r in records.values())
    phase = Phase.RUNNING if anything_running else view.phase
    plan.status = with_phase(status, phase, now=now)
    return plan


def _finish(
    status: dict[str, object], phase: Phase, *, now: datetime, reason: str, message: str | None
) -> dict[str, object]:
    done = with_phase(dict(status), phase, now=now, reason=reason, message=message)
    done["finishedAt"] = now.isoformat()
    done.pop("allocated", None)
    return done


class JobPolicy(DefaultPolicy):
    """Jobs: every replica admitted together, nothing elastic; a run ends with the Job."""

    kind = "Job"

    def plan(self, view: ObjectView, units: dict[int, UnitState], inputs: PlanInputs) -> Plan:
        return plan_job(view, units, now=inputs.now, context=inputs.context)

    def base_replicas(self, view: ObjectView) -> int:
        assert isinstance(view.obj, Job)
        return view.obj.spec.replicas

    def run_ended(self, status: Mapping[str, Any]) -> bool:
        """A Job that Succeeded or Failed."""
        return status.get("phase") in TERMINAL


JOB = JobPolicy()
