"""A Job unit's run as a batch/v1 Job (pure): the manifest, and which run waits for its Pod."""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]

from sapwood.server.controller.plan.units import unit_spec
from sapwood.server.runtimes.base import UnitKey
from sapwood.server.runtimes.kubernetes.jobs import job_manifest, pending_run, runs_as_job
from sapwood.server.runtimes.kubernetes.manifests import FINALIZER, RUN_NUMBER, pod_manifest
from tests.unit.server.controller.views import CONTEXT, view

JOB = view("Job", "train", command=["python", "t.py"], resources={"cpu": "1", "memory": "1Gi"})


def _pod(run: int = 2) -> dict[str, Any]:
    return pod_manifest(
        unit_spec(JOB, 0, CONTEXT), namespace="sapwood-research", run=run, image="i"
    )


@pytest.mark.parametrize("version", ["1.29", latest_version()])
def test_the_job_validates_strictly(version: str) -> None:
    kubernetes_validate.validate(job_manifest(_pod()), version, strict=True)


def test_the_job_runs_the_unit_pod_once_and_never_retries_by_itself() -> None:
    pod = _pod()
    job = job_manifest(pod)
    assert job["metadata"]["name"] == pod["metadata"]["name"] == "job-train-0-2"
    assert job["metadata"]["labels"] == pod["metadata"]["labels"]
    spec = job["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (1, 1, 0)
    template = spec["template"]
    assert template["spec"] == pod["spec"]
    assert template["spec"]["restartPolicy"] == "Never"
    # The Job controller copies these onto the Pod: it is found, and held, like a bare one.
    assert template["metadata"]["labels"][RUN_NUMBER] == "2"
    assert template["metadata"]["finalizers"] == [FINALIZER]


def test_only_sapwood_jobs_run_as_kubernetes_jobs() -> None:
    assert runs_as_job(UnitKey("Job", "t", "train"))
    assert not any(runs_as_job(UnitKey(k, "t", "x")) for k in ("Service", "Workspace", "Feed"))


def _job(run: int, *, done: str | None = None) -> dict[str, Any]:
    conditions = [{"type": done, "status": "True"}] if done else []
    return {"metadata": {"labels": {RUN_NUMBER: str(run)}}, "status": {"conditions": conditions}}


def _pod_of(run: int) -> dict[str, Any]:
    return {"metadata": {"labels": {RUN_NUMBER: str(run)}}}


def test_a_run_waits_for_its_pod_only_while_its_job_is_live_and_newest() -> None:
    assert pending_run([_job(1), _job(2)], [_pod_of(1)]) == 2
    assert pending_run([_job(1)], [_pod_of(1)]) is None  # its pod exists
    assert pending_run([_job(2, done="Failed")], [_pod_of(1)]) is None  # gave up
    assert pending_run([_job(1)], [_pod_of(2)]) is None  # older than the current run
    assert pending_run([], []) is None
