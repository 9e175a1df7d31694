"""plan_job: one pass for one Job, over hand-built objects and units."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sapwood.server.controller.plan.job import plan_job
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.runtimes.base import UnitReason, UnitState
from tests.unit.server.controller.views import (
    CONTEXT,
    GANG_PORT,
    T0,
    after,
    exited,
    reasons,
    replica,
    running,
    view,
)

ADMITTED = {"phase": "Admitted", "reason": "Admitted", "allocated": {"cpu": "500m"}}


def plan(job: ObjectView, units: dict[int, UnitState], now: datetime = T0) -> Plan:
    return plan_job(job, units, now=now, context=CONTEXT)


def started(job: ObjectView, now: datetime = T0) -> ObjectView:
    """The job after the pass that admitted and started it."""
    first = plan(job, {}, now)
    assert [u.key for u in first.starts] == [job.key(0)]
    return after(job, first)


def test_a_pending_job_waits_for_admission() -> None:
    assert plan(view("Job", command=["x"]), {}).empty


def test_an_admitted_job_starts_its_replicas_and_runs() -> None:
    job = view("Job", command=["x"], replicas=2, status=dict(ADMITTED))

    result = plan(job, {})

    assert [u.key.replica for u in result.starts] == [0, 1]
    assert result.status is not None
    assert result.status["phase"] == "Running"
    assert result.status["startedAt"] == T0.isoformat()
    assert [r["state"] for r in result.status["replicas"]] == ["Starting", "Starting"]


def test_a_running_job_records_its_replica_and_starts_nothing_more() -> None:
    job = started(view("Job", command=["x"], status=dict(ADMITTED)))
    result = plan(job, {0: running(job.key(0))}, T0 + timedelta(seconds=1))
    assert result.starts == []
    assert replica(result.status, 0)["state"] == "Running"


def test_exit_zero_succeeds() -> None:
    job = started(view("Job", command=["x"], status=dict(ADMITTED)))

    result = plan(job, {0: exited(job.key(0), 0)}, T0 + timedelta(seconds=5))

    assert result.status is not None
    assert result.status["phase"] == "Succeeded"
    assert result.status["reason"] == "Completed"
    assert result.status["succeeded"] == 1
    assert result.status["finishedAt"] == (T0 + timedelta(seconds=5)).isoformat()
    assert "allocated" not in result.status
    assert reasons(result) == ["Completed", "Succeeded"]
    assert result.starts == []


def test_failures_retry_with_exponential_backoff_until_the_limit() -> None:
    job = started(view("Job", command=["x"], retries=2, status=dict(ADMITTED)))
    key = job.key(0)
    run1 = exited(key, 3, started=T0)
    now = T0 + timedelta(seconds=5)

    first = plan(job, {0: run1}, now)
    assert reasons(first) == ["BackOff"]
    assert first.events[0].warning
    assert "exited with code 3 (Error)" in first.events[0].message
    assert "retry 1 of 2 in 10s" in first.events[0].message
    assert first.status is not None
    assert first.status["phase"] == "Running"
    assert first.status["failures"] == 1
    assert replica(first.status, 0)["state"] == "BackOff"
    assert replica(first.status, 0)["nextStartAt"] == (now + timedelta(seconds=10)).isoformat()
    assert first.starts == []
    job = after(job, first)

    # The same exit seen again is not counted twice, and nothing starts before the delay.
    early = plan(job, {0: run1}, now + timedelta(seconds=9))
    assert early.starts == []
    assert early.events == []
    assert early.status is not None
    assert early.status["failures"] == 1

    retry_at = now + timedelta(seconds=10)
    retry = plan(job, {0: run1}, retry_at)
    assert [u.key for u in retry.starts] == [key]
    job = after(job, retry)

    run2 = exited(key, 3, started=retry_at)
    second = plan(job, {0: run2}, retry_at + timedelta(seconds=5))
    assert "retry 2 of 2 in 20s" in second.events[0].message
    assert replica(second.status, 0)["restarts"] == 2
    job = after(job, second)

    run3_at = retry_at + timedelta(seconds=25)
    job = after(job, plan(job, {0: run2}, run3_at))
    third = plan(job, {0: exited(key, 3, started=run3_at)}, run3_at + timedelta(seconds=5))

    assert third.status is not None
    assert third.status["phase"] == "Failed"
    assert third.status["reason"] == "BackoffLimitExceeded"
    assert "retries allowed: 2" in third.status["message"]
    assert third.status["failures"] == 3
    assert third.starts == []
    assert reasons(third) == ["BackoffLimitExceeded"]


def test_restart_never_fails_at_the_first_failure() -> None:
    job = started(view("Job", command=["x"], restart="Never", retries=5, status=dict(ADMITTED)))

    result = plan(job, {0: exited(job.key(0), 1)}, T0 + timedelta(seconds=5))

    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert result.status["reason"] == "BackoffLimitExceeded"
    assert "retries allowed: 0" in result.status["message"]
    assert result.starts == []


def test_command_not_found_fails_at_once_without_retrying() -> None:
    job = started(view("Job", command=["trian.py"], retries=3, status=dict(ADMITTED)))
    missing = exited(job.key(0), 127, reason=UnitReason.COMMAND_NOT_FOUND)

    result = plan(job, {0: missing}, T0 + timedelta(seconds=1))

    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert result.status["reason"] == "CommandNotFound"
    assert result.status["failures"] == 0
    assert result.starts == []


def test_oom_kill_is_named_in_the_event() -> None:
    job = started(view("Job", command=["x"], status=dict(ADMITTED)))
    oom = exited(job.key(0), 137, reason=UnitReason.OOM_KILLED)

    result = plan(job, {0: oom}, T0 + timedelta(seconds=1))

    assert reasons(result) == ["OOMKilled"]
    assert "OOMKilled" in result.events[0].message


def test_the_active_deadline_stops_a_running_job() -> None:
    job = started(view("Job", command=["x"], activeDeadline="1m", status=dict(ADMITTED)))
    units = {0: running(job.key(0))}

    in_time = plan(job, units, T0 + timedelta(seconds=59))
    assert in_time.status is not None
    assert in_time.status["phase"] == "Running"
    assert in_time.stops == []

    late = plan(after(job, in_time), units, T0 + timedelta(seconds=60))
    assert late.status is not None
    assert late.status["phase"] == "Failed"
    assert late.status["reason"] == "DeadlineExceeded"
    assert late.status["message"] == "ran longer than activeDeadline 60s"
    assert late.stops == [job.key(0)]


def test_completions_run_one_replica_again_until_enough_succeed() -> None:
    job = started(view("Job", command=["x"], completions=3, status=dict(ADMITTED)))
    key = job.key(0)
    starts = 1
    phases = []
    for run in range(3):
        run_at = T0 + timedelta(minutes=run)
        result = plan(job, {0: exited(key, 0, started=run_at)}, run_at + timedelta(seconds=30))
        assert result.status is not None
        phases.append(result.status["phase"])
        starts += len(result.starts)
        job = after(job, result)

    assert phases == ["Running", "Running", "Succeeded"]
    assert starts == 3
    assert job.status["succeeded"] == 3


def test_a_gang_holds_one_port_block_for_the_whole_run() -> None:
    job = view("Job", command=["x"], replicas=2, status=dict(ADMITTED))

    first = plan(job, {})

    assert first.status is not None
    assert first.status["masterPort"] == GANG_PORT
    assert [u.env["MASTER_PORT"] for u in first.starts] == [str(GANG_PORT)] * 2
    assert [u.env["RANK"] for u in first.starts] == ["0", "1"]
    # Replica 1 fails and is retried: it comes back to the same rendezvous.
    job = after(job, first)
    failed = plan(job, {0: running(job.key(0)), 1: exited(job.key(1), 1)}, T0)
    job = after(job, failed)
    retry_at = T0 + timedelta(minutes=5)
    retry = plan(job, {0: running(job.key(0)), 1: exited(job.key(1), 1)}, retry_at)
    [again] = retry.starts
    assert again.env["MASTER_PORT"] == str(GANG_PORT)
    assert again.env["RANK"] == "1"


def test_a_gang_waits_when_no_ports_are_free() -> None:
    def none_free(count: int) -> int:
        raise OSError("no block of 2 free loopback ports found")

    context = replace(CONTEXT, pick_ports=none_free)
    job = view("Job", command=["x"], replicas=2, status=dict(ADMITTED))

    result = plan_job(job, {}, now=T0, context=context)

    assert result.starts == []
    assert reasons(result) == ["StartDelayed"]
    assert "no block of 2 free loopback ports" in result.events[0].message


def test_replicas_run_in_parallel_and_all_must_complete() -> None:
    job = view("Job", command=["x"], replicas=2, status=dict(ADMITTED))
    job = after(job, plan(job, {}))
    units = {0: exited(job.key(0), 0), 1: running(job.key(1))}

    half = plan(job, units, T0 + timedelta(seconds=5))
    assert half.status is not None
    assert half.status["phase"] == "Running"
    assert half.starts == []  # replica 0 is done; it is not run again

    units[1] = exited(job.key(1), 0)
    done = plan(after(job, half), units, T0 + timedelta(seconds=6))
    assert done.status is not None
    assert done.status["phase"] == "Succeeded"


def test_a_failure_ends_the_whole_gang() -> None:
    job = view("Job", command=["x"], replicas=2, retries=0, status=dict(ADMITTED))
    job = after(job, plan(job, {}))
    units = {0: exited(job.key(0), 2), 1: running(job.key(1))}

    result = plan(job, units, T0 + timedelta(seconds=5))

    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert result.stops == [job.key(1)]


def test_deletion_stops_running_units_then_removes_the_object() -> None:
    job = view("Job", command=["x"], replicas=2, status=dict(ADMITTED))
    job = after(job, plan(job, {}))
    deleting = view(
        "Job",
        command=["x"],
        replicas=2,
        deleted_at=T0 + timedelta(seconds=5),
        status={**job.status, "phase": "Terminating"},
    )
    units = {0: running(deleting.key(0)), 1: exited(deleting.key(1), 1)}

    first = plan(deleting, units)
    assert first.stops == [deleting.key(0)]
    assert first.remove is False
    assert first.starts == []

    units[0] = exited(deleting.key(0), 143, reason=UnitReason.STOPPED)
    second = plan(deleting, units)
    assert second.remove is True
    assert sorted(second.forgets) == [deleting.key(0), deleting.key(1)]
    assert reasons(second) == ["Deleted"]


def test_a_finished_job_forgets_its_exited_units_and_starts_nothing() -> None:
    job = view("Job", command=["x"], status={"phase": "Succeeded"})
    result = plan(job, {0: exited(job.key(0), 0)})
    assert result.forgets == [job.key(0)]
    assert result.starts == []
    assert result.status is None
