"""The API double itself: rendered manifests applied, scaled and deleted as on a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sapwood.kubernetes.render import render_object
from sapwood.kubernetes.team import render_team
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError
from sapwood.specs.documents import load_documents, parse_documents
from sapwood.testing.kube_api import KubeApiDouble

EXAMPLES = Path(__file__).parents[4] / "examples" / "quickstart"
NS = "sapwood-research"
PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "Service": "/api/v1/namespaces/{ns}/services",
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
}


def _apply(kube: KubeClient, manifest: dict[str, Any]) -> dict[str, Any]:
    path = PATHS[manifest["kind"]].format(ns=NS) + f"/{manifest['metadata']['name']}"
    return kube.apply(path, manifest)


def _render(example: str, owner_uid: str | None = None) -> list[dict[str, Any]]:
    text = (EXAMPLES / example).read_text()
    (obj,) = parse_documents(load_documents(text))
    return render_object(obj, "research", owner_uid=owner_uid)


@pytest.fixture
def team(kube: KubeClient, double: KubeApiDouble) -> None:
    ns, _ = render_team("research")
    kube.request("POST", "/api/v1/namespaces", body=ns)


@pytest.mark.usefixtures("team")
def test_apply_is_idempotent_and_bumps_versions_only_on_change(kube: KubeClient) -> None:
    deployment = next(m for m in _render("service.yaml") if m["kind"] == "Deployment")
    first = _apply(kube, deployment)
    again = _apply(kube, deployment)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["metadata"]["generation"] == first["metadata"]["generation"]
    deployment["spec"]["replicas"] = 3
    changed = _apply(kube, deployment)
    assert changed["metadata"]["generation"] == first["metadata"]["generation"] + 1
    assert int(changed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


@pytest.mark.usefixtures("team")
def test_apply_without_force_conflicts_with_another_manager(kube: KubeClient) -> None:
    job = next(m for m in _render("job.yaml") if m["kind"] == "Job")
    path = PATHS["Job"].format(ns=NS) + f"/{job['metadata']['name']}"
    kube.apply(path, job)
    query = [("fieldManager", "kubectl")]
    with pytest.raises(ApiStatusError) as caught:
        kube.request(
            "PATCH", path, query=query, body=job, content_type="application/apply-patch+yaml"
        )
    assert caught.value.status == 409


@pytest.mark.usefixtures("team")
def test_scale_subresource(kube: KubeClient) -> None:
    statefulset = next(m for m in _render("workspace.yaml") if m["kind"] == "StatefulSet")
    _apply(kube, statefulset)
    path = PATHS["StatefulSet"].format(ns=NS) + f"/{statefulset['metadata']['name']}/scale"
    kube.merge_patch(path, {"spec": {"replicas": 0}})
    assert kube.request("GET", path)["spec"]["replicas"] == 0
    with pytest.raises(ApiStatusError) as caught:
        kube.merge_patch(path, {"spec": {"replicas": -1}})
    assert caught.value.status == 422


@pytest.mark.usefixtures("team")
def test_list_by_label_selector(kube: KubeClient) -> None:
    services = PATHS["Service"].format(ns=NS)
    for name, kind in (("a", "Job"), ("b", "Service"), ("c", "Workspace")):
        labels = {"sapwood.dev/kind": kind, "sapwood.dev/team": "research"}
        kube.request("POST", services, body={"metadata": {"name": name, "labels": labels}})

    def names(selector: str) -> list[str]:
        body = kube.request("GET", services, query=[("labelSelector", selector)])
        return [item["metadata"]["name"] for item in body["items"]]

    assert names("sapwood.dev/kind=Service") == ["b"]
    assert names("sapwood.dev/kind in (Job, Service)") == ["a", "b"]
    assert names("sapwood.dev/kind notin (Service)") == ["a", "c"]
    assert names("sapwood.dev/kind!=Service,sapwood.dev/team=research") == ["a", "c"]
    assert names("sapwood.dev/team") == ["a", "b", "c"]
    assert names("!sapwood.dev/team") == []


@pytest.mark.usefixtures("team")
def test_delete_propagates_to_dependants(kube: KubeClient, double: KubeApiDouble) -> None:
    manifests = _render("service.yaml")
    deployment = _apply(kube, manifests[0])
    for manifest in _render("service.yaml", owner_uid=deployment["metadata"]["uid"])[1:]:
        _apply(kube, manifest)
    assert kube.get(PATHS["Service"].format(ns=NS) + "/svc-hello-web") is not None
    kube.delete(PATHS["Deployment"].format(ns=NS) + "/svc-hello-web", propagation="Foreground")
    assert kube.get(PATHS["Deployment"].format(ns=NS) + "/svc-hello-web") is None
    assert kube.get(PATHS["Service"].format(ns=NS) + "/svc-hello-web") is None
    kube.delete(PATHS["Deployment"].format(ns=NS) + "/svc-hello-web")  # absent: no error


def test_objects_need_their_namespace(kube: KubeClient) -> None:
    with pytest.raises(ApiStatusError) as caught:
        kube.request("POST", "/api/v1/namespaces/nowhere/pods", body={"metadata": {"name": "p"}})
    assert caught.value.status == 404


def test_a_pod_naming_a_missing_priority_class_is_refused(kube: KubeClient) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"priorityClassName": "gold", "containers": [{"name": "main", "image": "i"}]},
    }
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "ns"}})

    with pytest.raises(ApiStatusError) as refused:
        kube.request("POST", "/api/v1/namespaces/ns/pods", body=pod)

    assert refused.value.status == 403
    assert "no PriorityClass with name gold was found" in str(refused.value)
