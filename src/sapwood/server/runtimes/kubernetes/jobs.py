"""Job units as `batch/v1` Jobs (pure): one Job per unit run, whose one Pod is the run.

A Sapwood Job's replica runs in a Kubernetes Job created when Sapwood admits it (Sapwood
is the queue, so nothing waits suspended in the cluster), with `backoffLimit: 0`: the
controller owns retries, so a failed or stopped Pod ends its Job and the next run is a new
Job. The Pod is built from the same template as a bare unit Pod (labels, annotations, the
`sapwood.dev/unit` finalizer, which the Job controller copies onto the Pod), so observing,
stopping and logs work on the Pod exactly as for the other kinds. What the Job adds:
`kubectl get jobs` shows Sapwood's work as Jobs, the Pod is owned by (and deleted with)
its Job, and tools that watch Jobs see them.
"""

from __future__ import annotations

import copy
from typing import Any

from sapwood.server.runtimes.base import UnitKey
from sapwood.server.runtimes.kubernetes.manifests import RUN_NUMBER

Obj = dict[str, Any]

_TEMPLATE_KEYS = ("labels", "annotations", "finalizers")
_FINISHED = ("Complete", "Failed")


def runs_as_job(key: UnitKey) -> bool:
    """Whether a unit's runs are Kubernetes Jobs (Sapwood Jobs) or bare Pods (the rest)."""
    return key.kind == "Job"


def jobs_path(namespace: str, name: str = "") -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs" + (f"/{name}" if name else "")


def job_manifest(pod: Obj) -> Obj:
    """The Job that runs `pod` (a `pod_manifest()`) once, under the same name and labels."""
    meta = pod["metadata"]
    template_meta = {k: copy.deepcopy(meta[k]) for k in _TEMPLATE_KEYS if k in meta}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
        },
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 0,  # Sapwood's controller retries, with its own backoff
            "template": {"metadata": template_meta, "spec": copy.deepcopy(pod["spec"])},
        },
    }


def run_of(obj: Obj) -> int:
    labels = obj.get("metadata", {}).get("labels") or {}
    try:
        return int(labels.get(RUN_NUMBER, "0"))
    except ValueError:
        return 0


def finished(job: Obj) -> bool:
    conditions = job.get("status", {}).get("conditions") or []
    return any(c.get("type") in _FINISHED and c.get("status") == "True" for c in conditions)


def pending_run(jobs: list[Obj], pods: list[Obj]) -> int | None:
    """The run whose Job exists, unfinished, with no Pod yet (the Job controller has not
    made it, or cannot); None when there is none."""
    with_pods = {run_of(p) for p in pods}
    waiting = [
        run_of(j)
        for j in jobs
        if run_of(j) not in with_pods
        and not finished(j)
        and not j["metadata"].get("deletionTimestamp")
    ]
    newest = max((run_of(p) for p in pods), default=0)
    later = [r for r in waiting if r > newest]
    return max(later) if later else None
