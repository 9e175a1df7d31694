"""The quickstart examples, rendered by `sapwood render`, on a real cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sapwood.manifests.render import render_object
from sapwood.manifests.team import render_namespace, render_priority_classes
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.specs.documents import load_documents, parse_documents
from sapwood.testing.waiting import eventually_sync

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(900)]

EXAMPLES = Path(__file__).parents[2] / "examples" / "quickstart"
PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "Service": "/api/v1/namespaces/{ns}/services",
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
}


def _manifests(example: Path, namespace: str) -> list[dict[str, Any]]:
    (obj,) = parse_documents(load_documents(example.read_text(), source=str(example)))
    return render_object(obj, "quickstart", namespace=namespace)


def _path(manifest: dict[str, Any], namespace: str) -> str:
    return PATHS[manifest["kind"]].format(ns=namespace) + f"/{manifest['metadata']['name']}"


@pytest.fixture
def priority_classes(kube: KubeClient) -> Any:
    """The PriorityClasses rendered pods name; those this test made are deleted after."""
    made = []
    for manifest in render_priority_classes():
        path = f"/apis/scheduling.k8s.io/v1/priorityclasses/{manifest['metadata']['name']}"
        if kube.get(path) is None:
            kube.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", body=manifest)
            made.append(path)
    yield
    for path in made:
        kube.delete(path)


@pytest.fixture
def namespace(kube: KubeClient, prefix: str, priority_classes: None) -> Any:
    name = f"{prefix}quickstart"
    kube.request("POST", "/api/v1/namespaces", body=render_namespace("quickstart", namespace=name))
    yield name
    kube.delete(f"/api/v1/namespaces/{name}", propagation="Foreground")


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_pass_server_side_dry_run(kube: KubeClient, namespace: str, example: Path) -> None:
    for manifest in _manifests(example, namespace):
        query = [("fieldManager", "sapwood"), ("force", "true"), ("dryRun", "All")]
        kube.request(
            "PATCH",
            _path(manifest, namespace),
            query=query,
            body=manifest,
            content_type="application/apply-patch+yaml",
        )


def test_the_quickstart_job_completes_once_unsuspended(kube: KubeClient, namespace: str) -> None:
    (job,) = _manifests(EXAMPLES / "job.yaml", namespace)
    container = job["spec"]["template"]["spec"]["containers"][0]
    # The token Secret is the runtime's to write; this Job runs without it.
    container["env"] = [e for e in container["env"] if "valueFrom" not in e]
    job_path = _path(job, namespace)
    kube.apply(job_path, job)
    kube.merge_patch(job_path, {"spec": {"suspend": False}})

    def status() -> dict[str, Any]:
        found: dict[str, Any] = kube.request("GET", job_path).get("status", {})
        assert not found.get("failed"), found
        return found

    eventually_sync(
        status,
        lambda found: bool(found.get("succeeded")),
        timeout_s=600,
        interval_s=2,
        what="the quickstart job to complete",
    )


def test_a_service_scales_through_the_subresource(kube: KubeClient, namespace: str) -> None:
    deployment = next(
        m for m in _manifests(EXAMPLES / "service.yaml", namespace) if m["kind"] == "Deployment"
    )
    kube.apply(_path(deployment, namespace), deployment)
    scale = _path(deployment, namespace) + "/scale"
    kube.merge_patch(scale, {"spec": {"replicas": 0}})
    assert kube.request("GET", scale)["spec"]["replicas"] == 0
