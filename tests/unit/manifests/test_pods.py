"""What every workload's pod gets: image, env, token reference, resources, probes, placement."""

from __future__ import annotations

import json

import pytest

from sapwood.manifests import Manifest, RenderError, RenderOptions
from sapwood.manifests.names import object_name, short_name
from sapwood.specs.objects import AnyObject
from tests.unit.manifests.cases import all_objects, env_of, find, main_container, obj, render

WORKLOADS = ("Job", "Deployment", "StatefulSet")


def workload(manifests: list[Manifest]) -> Manifest:
    return next(m for m in manifests if m["kind"] in WORKLOADS)


@pytest.mark.parametrize("o", all_objects(), ids=lambda o: f"{o.kind}/{o.metadata.name[:12]}")
def test_every_object_and_pod_template_carries_the_standard_labels(o: AnyObject) -> None:
    manifests = render(o)
    standard = {
        "app.kubernetes.io/managed-by": "sapwood",
        "sapwood.dev/team": "research",
    }
    for m in manifests:
        assert m["metadata"]["labels"].items() >= standard.items(), m["kind"]
    w = workload(manifests)
    for labels in (w["metadata"]["labels"], w["spec"]["template"]["metadata"]["labels"]):
        assert labels["app.kubernetes.io/name"] == o.metadata.name
        assert labels["sapwood.dev/kind"] == o.kind
        assert labels["sapwood.dev/name"] == o.metadata.name


def test_user_labels_are_kept_but_cannot_override_sapwood_labels() -> None:
    o = obj("Job", "j", {"command": "x"}, labels={"app": "demo", "sapwood.dev/team": "other"})
    labels = find(render(o), "Job")["metadata"]["labels"]
    assert labels["app"] == "demo"
    assert labels["sapwood.dev/team"] == "research"


def test_env_has_the_users_then_sapwoods_and_the_token_only_by_reference() -> None:
    spec = {"command": "x", "env": {"EPOCHS": "3", "SAPWOOD_TOKEN": "hunter2", "SAPWOOD_TEAM": "x"}}
    manifests = render(obj("Job", "train", spec, uid="u-1", generation=2))
    env = env_of(main_container(find(manifests, "Job")))
    assert env["EPOCHS"] == "3"
    assert env["SAPWOOD_KIND"] == "Job"
    assert env["SAPWOOD_TEAM"] == "research"
    assert env["SAPWOOD_NAME"] == "train"
    assert env["SAPWOOD_UID"] == "u-1"
    assert env["SAPWOOD_GENERATION"] == "2"
    assert env["SAPWOOD_URL"] == "http://sapwood.sapwood.svc.cluster.local"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SAPWOOD_TOKEN"] == {"secretKeyRef": {"name": "job-train-token", "key": "token"}}
    assert "PORT" not in env  # jobs listen on nothing
    assert "hunter2" not in json.dumps(manifests)


@pytest.mark.parametrize("o", all_objects(), ids=lambda o: f"{o.kind}/{o.metadata.name[:12]}")
def test_workload_manifests_hold_no_secret(o: AnyObject) -> None:
    manifests = render(o)
    assert all(m["kind"] != "Secret" for m in manifests)
    token = env_of(main_container(workload(manifests)))["SAPWOOD_TOKEN"]
    assert set(token) == {"secretKeyRef"}


def test_image_defaults_with_a_note_and_spec_image_wins() -> None:
    default = find(render(obj("Job", "a", {"command": "x"})), "Job")
    assert main_container(default)["image"] == "python:3.11-slim"
    assert "python:3.11-slim" in default["metadata"]["annotations"]["sapwood.dev/default-image"]
    custom = render(
        obj("Job", "a", {"command": "x"}), options=RenderOptions(default_image="acme/base:2")
    )
    assert main_container(find(custom, "Job"))["image"] == "acme/base:2"
    given = find(render(obj("Job", "a", {"command": "x", "image": "acme/t:1"})), "Job")
    assert main_container(given)["image"] == "acme/t:1"
    assert "annotations" not in given["metadata"]


def test_command_and_workdir() -> None:
    job = find(render(obj("Job", "a", {"command": "echo hi", "workdir": "/w"})), "Job")
    assert main_container(job)["command"] == ["/bin/sh", "-c", "echo hi"]
    assert main_container(job)["workingDir"] == "/w"


def test_gpu_requests_limits_toleration_and_model_selector() -> None:
    resources = {"cpu": "1500m", "memory": "4Gi", "gpu": 2, "gpuModel": "NVIDIA-A100-SXM4-80GB"}
    spec = {"command": "x", "resources": resources, "nodeSelector": {"pool": "gpu"}}
    job = find(render(obj("Job", "a", spec)), "Job")
    assert main_container(job)["resources"] == {
        "requests": {"cpu": "1500m", "memory": "4Gi", "nvidia.com/gpu": "2"},
        "limits": {"memory": "4Gi", "nvidia.com/gpu": "2"},
    }
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "pool": "gpu",
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    }
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_no_gpu_means_no_gpu_resource_and_no_toleration() -> None:
    resources = {"cpu": 2, "memory": "1000000"}
    job = find(render(obj("Job", "a", {"command": "x", "resources": resources})), "Job")
    assert main_container(job)["resources"] == {
        "requests": {"cpu": "2", "memory": "1000000"},
        "limits": {"memory": "1000000"},
    }
    assert "tolerations" not in job["spec"]["template"]["spec"]
    assert "nodeSelector" not in job["spec"]["template"]["spec"]


def test_a_gpu_model_that_is_no_label_value_is_refused_by_field() -> None:
    spec = {"command": "x", "resources": {"gpu": 1, "gpuModel": "Tesla V100"}}
    with pytest.raises(RenderError, match=r"spec\.resources\.gpuModel"):
        render(obj("Job", "a", spec))


def test_priority_class_and_grace_period() -> None:
    spec = {"command": "x", "priority": "best-effort", "terminationGracePeriod": "1500ms"}
    pod = find(render(obj("Job", "a", spec)), "Job")["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "sapwood-best-effort"
    assert pod["terminationGracePeriodSeconds"] == 2
    assert pod["automountServiceAccountToken"] is False


def test_probes_map_each_kind_with_whole_seconds() -> None:
    spec = {
        "command": "x",
        "readiness": {
            "exec": {"command": ["cat", "/ready"]},
            "initialDelay": "1500ms",
            "period": "250ms",
            "timeout": "2s",
            "failureThreshold": 5,
            "successThreshold": 2,
        },
        "liveness": {"http": {"path": "/healthz", "port": 9000}, "successThreshold": 3},
    }
    container = main_container(find(render(obj("Service", "s", spec)), "Deployment"))
    assert container["readinessProbe"] == {
        "exec": {"command": ["cat", "/ready"]},
        "initialDelaySeconds": 2,
        "periodSeconds": 1,
        "timeoutSeconds": 2,
        "failureThreshold": 5,
        "successThreshold": 2,
    }
    live = container["livenessProbe"]
    assert live["httpGet"] == {"path": "/healthz", "port": 9000}
    assert live["successThreshold"] == 1  # Kubernetes allows nothing else for liveness
    tcp = {"command": "x", "readiness": {"tcp": {}}}
    ready = main_container(find(render(obj("Service", "s", tcp)), "Deployment"))["readinessProbe"]
    assert ready["tcpSocket"] == {"port": 8080}


def test_long_names_are_cut_with_a_stable_hash() -> None:
    name = object_name("Workspace", "y" * 63)
    assert len(name) == 52
    assert name == object_name("Workspace", "y" * 63)
    assert name != object_name("Workspace", "y" * 62 + "z")
    assert short_name("a-" * 40, 20)[-9] == "-"
    assert object_name("Service", "1st") == "svc-1st"  # starts with a letter
