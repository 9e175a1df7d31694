"""The cluster calls behind a Job unit's runs: list its Jobs, delete them, and read why the
Job controller could not make a Pod (jobs.py holds the pure part)."""

from __future__ import annotations

from typing import Any

from sapwood.server.runtimes.base import UnitKey
from sapwood.server.runtimes.kubernetes import manifests as m
from sapwood.server.runtimes.kubernetes.calls import call, call_unless
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.jobs import jobs_path

Obj = dict[str, Any]

_ABSENT = frozenset({404})
_FORBIDDEN = frozenset({403})


async def unit_jobs(kube: KubeClient, namespace: str, key: UnitKey) -> list[Obj]:
    """Every Job of the unit's runs, from the API server."""
    query = [("labelSelector", m.unit_selector(key))]
    body = await call("list jobs", kube.request, "GET", jobs_path(namespace), query=query)
    jobs: list[Obj] = body.get("items") or []
    return jobs


async def delete_jobs(kube: KubeClient, namespace: str, jobs: list[Obj]) -> None:
    """Deletes Jobs; their Pods go with them once their finalizers are released."""
    for job in jobs:
        path = jobs_path(namespace, job["metadata"]["name"])
        await call_unless("delete a job", _ABSENT, kube.delete, path, propagation="Background")


async def complaint(kube: KubeClient, namespace: str, job: str) -> str | None:
    """The Job controller's latest FailedCreate message for `job`, if it left one."""
    query = [("fieldSelector", f"involvedObject.name={job}")]
    path = f"/api/v1/namespaces/{namespace}/events"
    body = await call_unless("list events", _FORBIDDEN, kube.request, "GET", path, query=query)
    failed = [e for e in (body or {}).get("items") or [] if e.get("reason") == "FailedCreate"]
    return str(failed[-1].get("message") or "") if failed else None
