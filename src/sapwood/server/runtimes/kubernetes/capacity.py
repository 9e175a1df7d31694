"""Cluster capacity (pure): what schedulable nodes can allocate, less what others hold.

Per node: `status.allocatable` (already net of the kubelet's system reserve) minus the
requests of pods on it that are not Sapwood units (daemon sets, system pods, other
tenants) and have not finished. Sapwood's own units are not subtracted: the controller's
scheduler accounts for them, and `Capacity` is a total, not what is free. Cordoned nodes
count for nothing. GPU models come from the node label GPU Feature Discovery sets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from kubernetes.utils import parse_quantity

from sapwood.server.runtimes.base import Capacity
from sapwood.server.runtimes.kubernetes.manifests import GPU_RESOURCE, MANAGED_SELECTOR

Obj = dict[str, Any]

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
_MANAGED_KEY, _MANAGED_VALUE = MANAGED_SELECTOR.split("=")


def quantity(text: str | int | None) -> float:
    if text in (None, ""):
        return 0.0
    return float(parse_quantity(text))  # type: ignore[no-untyped-call]


def _pod_requests(pod: Obj) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for container in pod.get("spec", {}).get("containers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] += quantity(value)
    return total


def _is_other(pod: Obj) -> bool:
    labels = pod.get("metadata", {}).get("labels") or {}
    finished = pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
    return labels.get(_MANAGED_KEY) != _MANAGED_VALUE and not finished


def cluster_capacity(nodes: Iterable[Obj], pods: Iterable[Obj]) -> Capacity:
    held: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for pod in pods:
        node = pod.get("spec", {}).get("nodeName")
        if node and _is_other(pod):
            for name, amount in _pod_requests(pod).items():
                held[node][name] += amount
    cpu_millis = memory = gpus = 0
    models: list[str] = []
    for node in nodes:
        if node.get("spec", {}).get("unschedulable"):
            continue
        name = node["metadata"]["name"]
        allocatable = node.get("status", {}).get("allocatable") or {}
        taken = held.get(name, {})
        cpu_millis += max(0, round((quantity(allocatable.get("cpu")) - taken.get("cpu", 0)) * 1000))
        memory += max(0, int(quantity(allocatable.get("memory")) - taken.get("memory", 0)))
        node_gpus = max(
            0, int(quantity(allocatable.get(GPU_RESOURCE)) - taken.get(GPU_RESOURCE, 0))
        )
        gpus += node_gpus
        model = (node["metadata"].get("labels") or {}).get(GPU_PRODUCT_LABEL, "unknown")
        models += [model] * node_gpus
    return Capacity(
        cpu_millis=cpu_millis,
        memory_bytes=memory,
        gpus=gpus,
        gpu_models=tuple(sorted(models)) if gpus else (),
    )
