"""Capacity decisions: which nodes units can use and what a pod reserves on its node."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitSpec
from sapwood.server.runtimes.kubernetes.capacity import (
    GPU_UNIT_TOLERATIONS,
    pod_requests,
    takes_units,
    tolerates,
)
from sapwood.server.runtimes.kubernetes.manifests import pod_manifest

Obj = dict[str, Any]


def _node(*, taints: list[Obj] | None = None, ready: str = "True", gpus: int = 0) -> Obj:
    allocatable = {"cpu": "4", "memory": "8Gi", **({"nvidia.com/gpu": str(gpus)} if gpus else {})}
    return {
        "metadata": {"name": "n"},
        "spec": {"taints": taints or []},
        "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": ready}]},
    }


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"operator": "Exists"}, {"key": "any", "effect": "NoExecute"}, True),
        (
            {"key": "a", "operator": "Exists"},
            {"key": "a", "value": "x", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "a", "value": "x"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, True),
        ({"key": "a", "value": "y"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, False),
        (
            {"key": "a", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "a", "effect": "NoExecute"},
            False,
        ),
    ],
)
def test_tolerations_match_as_the_scheduler_matches(
    toleration: Obj, taint: Obj, expected: bool
) -> None:
    assert tolerates(toleration, taint) is expected


def test_nodes_units_can_use() -> None:
    gpu_taint = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}
    assert takes_units(_node())
    assert not takes_units(_node(ready="False"))
    assert not takes_units(_node(ready="Unknown"))
    assert not takes_units({"metadata": {"name": "n"}, "status": {}})  # no Ready condition
    assert takes_units(_node(taints=[{"key": "k", "effect": "PreferNoSchedule"}]))
    assert not takes_units(
        _node(taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    )
    assert takes_units(_node(taints=[gpu_taint], gpus=8))
    assert not takes_units(_node(taints=[gpu_taint]))  # no GPUs: no GPU unit goes there
    assert not takes_units(_node(taints=[{**gpu_taint, "effect": "NoExecute"}], gpus=8))


def test_gpu_tolerations_are_what_unit_pods_carry() -> None:
    unit = UnitSpec(key=UnitKey("Job", "t", "j"), command=("x",), env={}, gpus=1)
    manifest = pod_manifest(unit, namespace="ns", run=1, image="img")
    assert manifest["spec"]["tolerations"] == list(GPU_UNIT_TOLERATIONS)


def _c(cpu: str, **extra: Any) -> Obj:
    return {"name": "c", "resources": {"requests": {"cpu": cpu}}, **extra}


def test_a_pod_reserves_the_larger_of_its_init_and_app_containers() -> None:
    pod = {"spec": {"initContainers": [_c("2"), _c("500m")], "containers": [_c("1"), _c("250m")]}}
    assert pod_requests(pod)["cpu"] == 2.0
    pod["spec"]["initContainers"] = [_c("100m")]
    assert pod_requests(pod)["cpu"] == 1.25


def test_sidecars_add_to_the_app_and_overhead_to_everything() -> None:
    sidecar = _c("300m", restartPolicy="Always")
    pod = {
        "spec": {
            "initContainers": [sidecar, _c("1")],
            "containers": [_c("500m")],
            "overhead": {"cpu": "100m"},
        }
    }
    # init phase peak: sidecar 0.3 + init 1 = 1.3; running: 0.5 + 0.3 = 0.8; plus 0.1.
    assert pod_requests(pod)["cpu"] == pytest.approx(1.4)
