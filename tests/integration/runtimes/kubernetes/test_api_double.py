"""The API double itself: rendered manifests applied, scaled and deleted as on a cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sapwood.manifests.render import render_object
from sapwood.manifests.team import render_team
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
    ns, *_ = render_team("research")
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


# --- the Job controller -------------------------------------------------------------------

JOBS = PATHS["Job"].format(ns=NS)
PODS = f"/api/v1/namespaces/{NS}/pods"
HOLD = "example.com/hold"


def _job(name: str = "train", *, finalizers: tuple[str, ...] = (), **spec: Any) -> dict[str, Any]:
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": "train"}, "annotations": {"team": "research"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11-slim", "command": ["python"]}],
        },
    }
    if finalizers:
        template["metadata"]["finalizers"] = list(finalizers)
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}}
    return {**body, "spec": {"template": template, **spec}}


def _pods(double: KubeApiDouble, job: str = "train") -> list[dict[str, Any]]:
    return double.pods(NS, f"batch.kubernetes.io/job-name={job}")


def _status(kube: KubeClient, job: str = "train") -> dict[str, Any]:
    obj = kube.get(f"{JOBS}/{job}")
    assert obj is not None
    return dict(obj.get("status") or {})


def _condition(status: dict[str, Any], type_: str) -> tuple[str, str] | None:
    found = [c for c in status.get("conditions", []) if c["type"] == type_]
    return (found[0]["status"], found[0]["reason"]) if found else None


@pytest.mark.usefixtures("team")
def test_a_job_makes_one_pod_from_its_template(kube: KubeClient, double: KubeApiDouble) -> None:
    job = kube.request("POST", JOBS, body=_job(finalizers=(HOLD,)))

    (pod,) = _pods(double)
    meta, uid = pod["metadata"], job["metadata"]["uid"]
    assert re.fullmatch(r"train-[a-z0-9]{5}", meta["name"])
    assert meta["labels"] == {
        "app": "train",
        "batch.kubernetes.io/job-name": "train",
        "batch.kubernetes.io/controller-uid": uid,
        "job-name": "train",
        "controller-uid": uid,
    }
    assert meta["annotations"] == {"team": "research"}
    assert meta["finalizers"] == [HOLD]  # no batch.kubernetes.io/job-tracking
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "train",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # the template's spec, with the ServiceAccount admission's default
    expected = {**job["spec"]["template"]["spec"], "serviceAccountName": "default"}
    assert pod["spec"] == {**expected, "nodeName": "node-a"}  # bound by the scheduler
    assert pod["status"]["phase"] == "Running"
    status = _status(kube)
    assert status["active"] == 1
    assert "startTime" in status


@pytest.mark.usefixtures("team")
def test_a_succeeded_pod_completes_the_job(kube: KubeClient, double: KubeApiDouble) -> None:
    kube.apply(f"{JOBS}/train", _job())
    (pod,) = _pods(double)

    double.finish_pod(NS, pod["metadata"]["name"], 0)

    status = _status(kube)
    assert _condition(status, "Complete") == ("True", "CompletionsReached")
    assert status["succeeded"] == 1
    assert "active" not in status
    assert "completionTime" in status
    assert len(_pods(double)) == 1


@pytest.mark.usefixtures("team")
def test_a_failed_pod_fails_the_job_past_its_backoff_limit(
    kube: KubeClient, double: KubeApiDouble
) -> None:
    kube.apply(f"{JOBS}/train", _job(backoffLimit=0))
    (pod,) = _pods(double)

    double.finish_pod(NS, pod["metadata"]["name"], 1)

    status = _status(kube)
    assert _condition(status, "Failed") == ("True", "BackoffLimitExceeded")
    assert status["failed"] == 1
    assert _condition(status, "Complete") is None
    assert [p["metadata"]["name"] for p in _pods(double)] == [pod["metadata"]["name"]]


@pytest.mark.usefixtures("team")
def test_a_failed_pod_is_replaced_within_the_backoff_limit(
    kube: KubeClient, double: KubeApiDouble
) -> None:
    kube.apply(f"{JOBS}/train", _job(backoffLimit=1))
    (first,) = _pods(double)

    double.finish_pod(NS, first["metadata"]["name"], 1)

    (second,) = [p for p in _pods(double) if p["metadata"]["uid"] != first["metadata"]["uid"]]
    assert second["status"]["phase"] == "Running"
    status = _status(kube)
    assert (status["failed"], status["active"], _condition(status, "Failed")) == (1, 1, None)
    double.finish_pod(NS, second["metadata"]["name"], 1)
    assert _condition(_status(kube), "Failed") == ("True", "BackoffLimitExceeded")
    assert len(_pods(double)) == 2


@pytest.mark.usefixtures("team")
def test_a_deleted_pod_counts_as_failed(kube: KubeClient, double: KubeApiDouble) -> None:
    kube.apply(f"{JOBS}/train", _job(backoffLimit=1))
    (first,) = _pods(double)

    kube.delete(f"{PODS}/{first['metadata']['name']}", grace_period_s=5)

    (second,) = _pods(double)
    assert second["metadata"]["name"] != first["metadata"]["name"]
    assert _status(kube)["failed"] == 1


@pytest.mark.usefixtures("team")
def test_suspending_deletes_the_pods_and_resuming_makes_new_ones(
    kube: KubeClient, double: KubeApiDouble
) -> None:
    kube.request("POST", JOBS, body=_job(backoffLimit=0))
    (first,) = _pods(double)

    kube.merge_patch(f"{JOBS}/train", {"spec": {"suspend": True}})

    assert _pods(double) == []
    status = _status(kube)
    assert _condition(status, "Suspended") == ("True", "JobSuspended")
    assert "failed" not in status  # pods a suspension ends are no failures
    assert "active" not in status

    kube.merge_patch(f"{JOBS}/train", {"spec": {"suspend": False}})

    (second,) = _pods(double)
    assert second["metadata"]["name"] != first["metadata"]["name"]
    status = _status(kube)
    assert _condition(status, "Suspended") == ("False", "JobResumed")
    assert status["active"] == 1


@pytest.mark.usefixtures("team")
def test_a_job_created_suspended_makes_no_pod_until_resumed(
    kube: KubeClient, double: KubeApiDouble
) -> None:
    kube.apply(f"{JOBS}/train", _job(suspend=True))
    assert _pods(double) == []
    assert "startTime" not in _status(kube)

    kube.apply(f"{JOBS}/train", _job(suspend=False))

    assert len(_pods(double)) == 1
    assert "startTime" in _status(kube)


@pytest.mark.usefixtures("team")
def test_an_indexed_job_makes_a_pod_per_index(kube: KubeClient, double: KubeApiDouble) -> None:
    kube.apply(f"{JOBS}/train", _job(completionMode="Indexed", completions=3, parallelism=3))

    pods = _pods(double)
    index_key = "batch.kubernetes.io/job-completion-index"
    by_index = {p["metadata"]["annotations"][index_key]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"]
    for index, pod in by_index.items():
        assert pod["metadata"]["labels"][index_key] == index
        assert re.fullmatch(rf"train-{index}-[a-z0-9]{{5}}", pod["metadata"]["name"])
        assert pod["spec"]["hostname"] == f"train-{index}"
        double.finish_pod(NS, pod["metadata"]["name"], 0)
    status = _status(kube)
    assert (status["succeeded"], status["completedIndexes"]) == (3, "0-2")
    assert _condition(status, "Complete") == ("True", "CompletionsReached")


@pytest.mark.usefixtures("team")
def test_an_indexed_job_runs_at_most_parallelism_pods(
    kube: KubeClient, double: KubeApiDouble
) -> None:
    index_key = "batch.kubernetes.io/job-completion-index"
    kube.apply(f"{JOBS}/train", _job(completionMode="Indexed", completions=3, parallelism=2))
    pods = _pods(double)
    assert sorted(p["metadata"]["annotations"][index_key] for p in pods) == ["0", "1"]

    zero = next(p for p in pods if p["metadata"]["annotations"][index_key] == "0")
    double.finish_pod(NS, zero["metadata"]["name"], 0)

    running = [p for p in _pods(double) if p["status"]["phase"] == "Running"]
    assert sorted(p["metadata"]["annotations"][index_key] for p in running) == ["1", "2"]
    assert _status(kube)["completedIndexes"] == "0"


@pytest.mark.usefixtures("team")
def test_deleting_a_job_deletes_its_pods(kube: KubeClient, double: KubeApiDouble) -> None:
    kube.apply(f"{JOBS}/train", _job(completions=2, parallelism=2))
    assert len(_pods(double)) == 2

    kube.delete(f"{JOBS}/train", propagation="Background")

    assert kube.get(f"{JOBS}/train") is None
    assert _pods(double) == []


@pytest.mark.usefixtures("team")
@pytest.mark.parametrize("propagation", ["Background", "Foreground"])
def test_a_pod_held_by_a_finalizer_stays_until_released(
    kube: KubeClient, double: KubeApiDouble, propagation: str
) -> None:
    kube.apply(f"{JOBS}/train", _job(finalizers=(HOLD,)))
    (pod,) = _pods(double)
    name = pod["metadata"]["name"]

    kube.delete(f"{JOBS}/train", propagation=propagation)

    (held,) = _pods(double)  # terminated by the kubelet, not replaced, not gone
    assert held["metadata"]["name"] == name
    assert held["metadata"]["deletionTimestamp"]
    assert held["status"]["phase"] == "Failed"
    job = kube.get(f"{JOBS}/train")
    if propagation == "Background":
        assert job is None
    else:  # the Job waits for its pod, as the garbage collector makes it
        assert job is not None
        assert job["metadata"]["deletionTimestamp"]
        assert job["metadata"]["finalizers"] == ["foregroundDeletion"]

    kube.merge_patch(f"{PODS}/{name}", {"metadata": {"finalizers": None}})

    assert _pods(double) == []
    assert kube.get(f"{JOBS}/train") is None


@pytest.mark.usefixtures("team")
def test_a_pod_refused_by_admission_gives_a_failed_create_event(
    kube: KubeClient, double: KubeApiDouble
) -> None:
    manifest = _job()
    manifest["spec"]["template"]["spec"]["priorityClassName"] = "gold"
    job = kube.request("POST", JOBS, body=manifest)

    assert _pods(double) == []
    events = kube.request("GET", f"/api/v1/namespaces/{NS}/events")["items"]
    (event,) = [e for e in events if e["reason"] == "FailedCreate"]
    assert event["type"] == "Warning"
    assert "no PriorityClass with name gold was found" in event["message"]
    involved = event["involvedObject"]
    assert (involved["kind"], involved["name"], involved["namespace"], involved["uid"]) == (
        "Job",
        "train",
        NS,
        job["metadata"]["uid"],
    )

    double.add_priority_class("gold")  # the controller tries again

    assert len(_pods(double)) == 1
