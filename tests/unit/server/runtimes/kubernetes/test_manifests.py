"""What a unit becomes (pure): names, labels, env, errors."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]

from sapwood.manifests.options import DEFAULT_OPTIONS
from sapwood.server.controller.plan.units import unit_spec
from sapwood.server.runtimes.base import (
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitSpec,
)
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate
from sapwood.server.runtimes.kubernetes.manifests import (
    claim_manifest,
    key_of,
    pod_manifest,
    pod_name,
    pod_priority_class,
    secret_manifest,
)
from sapwood.specs.probes import Probe
from tests.unit.server.controller.views import CONTEXT, view

KEY = UnitKey("Service", "research", "web")
READY = Probe.model_validate({"http": {"path": "/ready"}, "period": "2s", "successThreshold": 2})
ALIVE = Probe.model_validate({"tcp": {"port": 7000}, "successThreshold": 3})


def _pod(**fields: Any) -> dict[str, Any]:
    unit = UnitSpec(key=KEY, command=("serve",), env={}, **fields)
    return pod_manifest(unit, namespace="ns", run=1, image="img")


def test_names_are_dns_labels_even_for_long_names() -> None:
    key = UnitKey("Workspace", "research", "x" * 63, 12)
    name = pod_name(key, 100)
    assert len(name) <= 63
    assert name.startswith("ws-x")
    assert pod_name(key, 100) != pod_name(UnitKey("Workspace", "research", "x" * 62, 12), 100)


def test_the_key_round_trips_through_labels() -> None:
    key = UnitKey("Service", "vision", "api", 3)
    unit = UnitSpec(key=key, command=("serve",), env={})
    assert key_of(pod_manifest(unit, namespace="ns", run=1, image="img")) == key


def test_only_credentials_go_to_the_secret() -> None:
    unit = UnitSpec(
        key=UnitKey("Job", "t", "j"),
        command=("run",),
        env={"SAPWOOD_TOKEN": "a", "DB_PASSWORD": "b", "EPOCHS": "3"},
    )
    secret = secret_manifest(unit, namespace="ns")
    assert secret is not None
    # base64 in `data`: under server-side apply, `stringData` keys are never removed
    assert secret["data"] == {"SAPWOOD_TOKEN": "YQ==", "DB_PASSWORD": "Yg=="}
    assert "stringData" not in secret
    no_secrets = UnitSpec(key=unit.key, command=("run",), env={"EPOCHS": "3"})
    assert secret_manifest(no_secrets, namespace="ns") is None


def test_error_translation() -> None:
    assert isinstance(translate(ApiStatusError(409, "conflict"), action="x"), RuntimeTemporaryError)
    assert isinstance(
        translate(ApiStatusError(429, "slow down"), action="x"), RuntimeTemporaryError
    )
    assert isinstance(translate(ApiStatusError(502, "bad gw"), action="x"), RuntimeTemporaryError)
    invalid = translate(ApiStatusError(422, "no", reason="Invalid"), action="create a pod")
    assert isinstance(invalid, RuntimePermanentError)
    assert invalid.reason == "Invalid"
    assert str(invalid) == "kubernetes refused to create a pod: no"
    parsed = ApiStatusError.from_body(422, b'{"kind":"Status","message":"bad","reason":"Invalid"}')
    assert (parsed.message, parsed.reason) == ("bad", "Invalid")
    assert ApiStatusError.from_body(502, b"<html>").message == "<html>"


def test_a_plain_unit_gets_no_placement_priority_or_probes() -> None:
    pod = _pod()
    assert {"nodeSelector", "priorityClassName", "tolerations"}.isdisjoint(pod["spec"])
    assert {"readinessProbe", "livenessProbe"}.isdisjoint(pod["spec"]["containers"][0])


def test_the_node_selector_reaches_the_pod() -> None:
    pod = _pod(node_selector={"pool": "batch", "zone": "a"})
    assert pod["spec"]["nodeSelector"] == {"pool": "batch", "zone": "a"}


def test_a_gpu_model_selects_nodes_by_the_gpu_product_label_as_rendered() -> None:
    pod = _pod(gpus=2, gpu_model="NVIDIA-A100-SXM4-80GB", node_selector={"pool": "gpu"})
    assert pod["spec"]["nodeSelector"] == {
        "pool": "gpu",
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    }
    assert pod["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_a_gpu_model_that_is_no_label_value_is_refused_for_good() -> None:
    with pytest.raises(RuntimePermanentError) as caught:
        _pod(gpus=1, gpu_model="A100 80GB")
    assert caught.value.reason == "InvalidSpec"
    assert "gpuModel" in str(caught.value)


def test_the_priority_becomes_the_priority_class_sapwood_render_names() -> None:
    assert _pod(priority_class="high")["spec"]["priorityClassName"] == "sapwood-high"


def test_probes_go_on_the_main_container_as_sapwood_render_writes_them() -> None:
    pod = _pod(wants_port=True, readiness=READY, liveness=ALIVE)
    main = pod["spec"]["containers"][0]
    # No port: the container's. Kubernetes wants a liveness successThreshold of 1.
    assert main["readinessProbe"] == {
        "httpGet": {"path": "/ready", "port": 8080},
        "initialDelaySeconds": 0,
        "periodSeconds": 2,
        "timeoutSeconds": 1,
        "failureThreshold": 3,
        "successThreshold": 2,
    }
    assert main["livenessProbe"]["tcpSocket"] == {"port": 7000}
    assert main["livenessProbe"]["successThreshold"] == 1


def _units() -> dict[str, UnitSpec]:
    timing = {"initialDelay": "1500ms", "period": "250ms", "timeout": "2s"}
    views = {
        "service-gpu-probes": view(
            "Service",
            "web",
            command=["serve"],
            env={"API_TOKEN": "t", "MODE": "fast"},
            nodeSelector={"pool": "serving"},
            resources={"cpu": "2", "memory": "4Gi", "gpu": 1, "gpuModel": "NVIDIA-L4"},
            priority="high",
            volumes=[{"name": "cache", "mountPath": "/cache"}],
            readiness={"http": {"path": "/ready", "port": 9000}, **timing},
            liveness={"exec": {"command": ["cat", "/alive"]}, "successThreshold": 1},
        ),
        "service-tcp": view("Service", "tcp", command="serve", readiness={"tcp": {}}),
        "service-model": view("Service", "llm", model="bert@prod"),
        "job-best-effort": view(
            "Job", "train", command=["python", "t.py"], priority="best-effort", workdir="/w"
        ),
    }
    return {name: unit_spec(v, 0, CONTEXT) for name, v in views.items()}


UNITS = _units()


@pytest.mark.parametrize("version", ["1.29", latest_version()])
@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_manifests_validate_strictly(version: str, name: str) -> None:
    unit = UNITS[name]
    manifests = [pod_manifest(unit, namespace="sapwood-research", run=3, image="img:1")]
    secret = secret_manifest(unit, namespace="sapwood-research")
    assert secret is not None  # every unit carries its token
    manifests.append(secret)
    manifests += [
        claim_manifest(v.name, namespace="sapwood-research", team="research", size_bytes=2**30)
        for v in unit.volumes
    ]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


IN_CLUSTER = replace(CONTEXT, runs_images=True)


def _container(unit: UnitSpec) -> dict[str, Any]:
    pod = pod_manifest(
        unit, namespace="ns", run=1, image="img", server_image="srv:1", jupyter_image="jup:1"
    )
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def test_a_model_service_runs_the_model_server_from_the_server_image() -> None:
    unit = unit_spec(view("Service", "llm", model="bert@prod"), 0, IN_CLUSTER)
    container = _container(unit)
    assert container["image"] == "srv:1"
    assert container["command"] == ["python", "-m", "sapwood.serving", "--model", "bert@prod"]
    assert sys.executable not in container["command"]  # the server's path means nothing there


def test_a_feed_worker_runs_from_the_server_image() -> None:
    feed = view("Feed", "traffic", schema="antinex-v1", model="antinex@production")
    container = _container(unit_spec(feed, 0, IN_CLUSTER))
    assert container["image"] == "srv:1"
    assert container["command"] == ["python", "-m", "sapwood.feeds.worker"]


def test_a_jupyter_workspace_listens_on_every_interface_in_the_jupyter_image() -> None:
    unit = unit_spec(view("Workspace", "nb", tool="jupyter"), 0, IN_CLUSTER)
    container = _container(unit)
    assert container["image"] == "jup:1"
    assert container["command"][:2] == ["/bin/sh", "-c"]
    assert "exec jupyter lab" in container["command"][2]
    assert "--ip=0.0.0.0" in container["command"][2]


def test_the_spec_image_wins_and_user_commands_run_as_given() -> None:
    model = unit_spec(view("Service", "llm", model="bert@prod", image="mine:2"), 0, IN_CLUSTER)
    assert _container(model)["image"] == "mine:2"
    assert _container(model)["command"][:3] == ["python", "-m", "sapwood.serving"]
    job = unit_spec(view("Job", "train", command=["python", "t.py"]), 0, IN_CLUSTER)
    assert _container(job)["image"] == "img"
    assert _container(job)["command"] == ["python", "t.py"]


def test_a_priority_class_the_cluster_lacks_is_left_out() -> None:
    unit = UnitSpec(key=KEY, command=("serve",), env={}, priority_class="high")
    options = DEFAULT_OPTIONS
    assert pod_priority_class(unit, None, options=options) == "sapwood-high"  # unknown: named
    assert pod_priority_class(unit, {"sapwood-high"}, options=options) == "sapwood-high"
    assert pod_priority_class(unit, {"sapwood-normal"}, options=options) is None
    assert pod_priority_class(replace(unit, priority_class=None), None, options=options) is None
