"""A finished Job's next run: its fresh status, the history kept, and an earlier run's
units cleared before the new run starts."""

from __future__ import annotations

from datetime import timedelta

from sapwood.server.controller.plan.job import plan_job
from sapwood.server.controller.plan.reruns import (
    HISTORY_KEPT,
    can_rerun,
    outcome_text,
    rerun_status,
    run_number,
)
from tests.unit.server.controller.views import CONTEXT, T0, exited, running, view

FAILED = {
    "phase": "Failed",
    "phaseSince": T0.isoformat(),
    "reason": "BackoffLimitExceeded",
    "message": "replica 0 exited with code 3 (Error); retries allowed: 0",
    "startedAt": T0.isoformat(),
    "finishedAt": (T0 + timedelta(minutes=2)).isoformat(),
    "succeeded": 0,
    "failures": 1,
    "restarts": 0,
    "replicas": [{"index": 0, "state": "Waiting"}],
    "allocated": {"cpu": "500m"},
}
LATER = T0 + timedelta(hours=1)


def test_only_a_finished_job_can_be_rerun() -> None:
    assert can_rerun(FAILED)
    assert can_rerun({"phase": "Succeeded"})
    assert not can_rerun({"phase": "Running"})
    assert not can_rerun({"phase": "Pending"})


def test_a_rerun_starts_afresh_and_keeps_the_outcome_in_history() -> None:
    status = rerun_status(FAILED, now=LATER)

    assert status["phase"] == "Pending"
    assert status["reason"] == "Rerun"
    assert status["run"] == 2
    assert status["message"] == "run 2 requested; waiting for admission"
    assert status["history"] == [
        {
            "run": 1,
            "phase": "Failed",
            "reason": "BackoffLimitExceeded",
            "message": FAILED["message"],
            "startedAt": FAILED["startedAt"],
            "finishedAt": FAILED["finishedAt"],
            "succeeded": 0,
            "failures": 1,
            "restarts": 0,
        }
    ]
    for gone in ("replicas", "allocated", "startedAt", "finishedAt", "failures"):
        assert gone not in status
    assert outcome_text(status["history"][0]) == "run 1 Failed (BackoffLimitExceeded)"


def test_runs_count_up_and_history_is_capped() -> None:
    status = dict(FAILED)
    for _ in range(HISTORY_KEPT + 5):
        status = {**rerun_status(status, now=LATER), "phase": "Succeeded", "reason": "Completed"}

    assert run_number(status) == HISTORY_KEPT + 6
    assert len(status["history"]) == HISTORY_KEPT
    assert status["history"][-1]["run"] == HISTORY_KEPT + 5
    assert outcome_text(status["history"][-1]) == f"run {HISTORY_KEPT + 5} Succeeded"


def test_an_earlier_runs_units_go_before_the_rerun_starts() -> None:
    admitted = {**rerun_status(FAILED, now=LATER), "phase": "Admitted", "reason": "Admitted"}
    job = view("Job", command=["x"], replicas=2, status=admitted)
    # Replica 0's last run exited (not yet forgotten); replica 1 is still being stopped.
    units = {0: exited(job.key(0), 3), 1: running(job.key(1))}

    clearing = plan_job(job, units, now=LATER, context=CONTEXT)

    assert clearing.starts == []
    assert clearing.stops == [job.key(1)]
    assert clearing.forgets == [job.key(0)]
    assert clearing.status is None  # the old exit is not counted against the new run

    fresh = plan_job(job, {}, now=LATER, context=CONTEXT)
    assert [u.key.replica for u in fresh.starts] == [0, 1]
    assert fresh.status is not None
    assert fresh.status["phase"] == "Running"
    assert fresh.status["failures"] == 0
    assert fresh.status["run"] == 2
    assert fresh.status["history"][0]["phase"] == "Failed"
