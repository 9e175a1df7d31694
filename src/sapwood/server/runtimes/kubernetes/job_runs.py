"""The cluster calls behind a Job unit's runs: delete its Jobs, and read why the
Job controller could not make a Pod (jobs.py holds the pure part)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sapwood.server.runtimes.kubernetes.calls import call_unless
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.errors import forbidden_cause
from sapwood.server.runtimes.kubernetes.jobs import jobs_path

Obj = dict[str, Any]

_ABSENT = frozenset({404})
_FORBIDDEN = frozenset({403})


async def delete_jobs(kube: KubeClient, namespace: str, jobs: list[Obj]) -> None:
    """Deletes Jobs; their Pods go with them once their finalizers are released."""
    for job in jobs:
        path = jobs_path(namespace, job["metadata"]["name"])
        await call_unless("delete a job", _ABSENT, kube.delete, path, propagation="Background")


@dataclass(frozen=True)
class Complaint:
    """The Job controller's latest FailedCreate event for a Job: its message, and what
    tells a repeat from the same event seen before (name, count, last time)."""

    message: str
    seen: tuple[str, int, str]


async def complaint(kube: KubeClient, namespace: str, job: str, uid: str) -> Complaint | None:
    """The Job controller's latest FailedCreate event for the Job `job` of `uid` (not one
    left by an earlier Job of that name), if it left one."""
    query = [("fieldSelector", f"involvedObject.name={job}")]
    path = f"/api/v1/namespaces/{namespace}/events"
    body = await call_unless("list events", _FORBIDDEN, kube.request, "GET", path, query=query)
    failed = [
        e
        for e in (body or {}).get("items") or []
        if e.get("reason") == "FailedCreate"
        and (e.get("involvedObject") or {}).get("uid", uid) in (uid, "")
    ]
    if not failed:
        return None
    event = failed[-1]
    name = str(event.get("metadata", {}).get("name", ""))
    count = int(event.get("count") or 1)
    stamp = str(event.get("lastTimestamp") or event.get("eventTime") or "")
    return Complaint(str(event.get("message") or ""), (name, count, stamp))


def no_pod_yet(job: str, why: Complaint | None) -> str:
    """What start() says while a Job has no pod: what refused it first when known."""
    if why is None:
        return f"job {job} has no pod yet"
    cause = forbidden_cause(why.message)
    prefix = f"{cause}: " if cause != "Forbidden" else ""
    return f"{prefix}job {job} has no pod yet: {why.message}"
