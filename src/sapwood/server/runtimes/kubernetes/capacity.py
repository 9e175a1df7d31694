"""Cluster capacity: what the nodes that can take units allocate, less what others hold.

A node counts when it is Ready (a NotReady or Unknown node takes no pods), not cordoned,
and every NoSchedule/NoExecute taint on it is tolerated by unit pods. CPU-only units
tolerate nothing; GPU units tolerate `nvidia.com/gpu` with effect NoSchedule (the
toleration pod_manifest writes; clusters with the ExtendedResourceToleration admission
plugin add an equivalent one). So a node tainted only for GPUs counts, with its CPU and
memory, since GPU units use them too: a CPU-only unit cannot land there, and the total may
then overstate what CPU-only units can get (Capacity is one total, not per node). Nodes
with any other taint (the control plane's, a team's dedicated nodes) count for nothing.

Per counted node: `status.allocatable` (already net of the kubelet's system reserve) minus
the requests of pods on it that are not Sapwood units and have not finished (DaemonSet
pods, system pods, other tenants), each as the scheduler computes a pod's request:
max(the largest init container, the sum of the app containers) plus sidecars (init
containers with restartPolicy Always) and the pod overhead. Sapwood's own units are not
subtracted: the controller's scheduler accounts for them. GPU models come from the node
label GPU Feature Discovery sets. The decisions are pure functions; `ClusterCapacity`
reads nodes and pods in pages of `PAGE_SIZE` and keeps the result for a while, since the
controller asks every round.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from kubernetes.utils import parse_quantity

from sapwood.server.runtimes.base import Capacity
from sapwood.server.runtimes.kubernetes.calls import call, call_unless
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError
from sapwood.server.runtimes.kubernetes.manifests import GPU_RESOURCE, MANAGED_SELECTOR
from sapwood.server.runtimes.kubernetes.states import condition

log = logging.getLogger("sapwood.runtime.kubernetes")

Obj = dict[str, Any]

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
PAGE_SIZE = 500
_MANAGED_KEY, _MANAGED_VALUE = MANAGED_SELECTOR.split("=")
_BLOCKING = ("NoSchedule", "NoExecute")
# What unit pods tolerate (manifests.pod_manifest): GPU units only, and only this.
GPU_UNIT_TOLERATIONS: tuple[Obj, ...] = (
    {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
)
_EXPIRED_RETRIES = 3


def quantity(text: str | int | None) -> float:
    if text in (None, ""):
        return 0.0
    return float(parse_quantity(text))  # type: ignore[no-untyped-call]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Whether `toleration` matches `taint`, as the scheduler decides it."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if toleration.get("operator") == "Exists":
        return not key or key == taint.get("key")
    return key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def is_ready(node: Obj) -> bool:
    ready = condition(node, "Ready")
    return ready is not None and ready.get("status") == "True"


def takes_units(node: Obj) -> bool:
    """Ready, not cordoned, and no blocking taint that unit pods do not tolerate."""
    if not is_ready(node) or node.get("spec", {}).get("unschedulable"):
        return False
    gpus = quantity((node.get("status", {}).get("allocatable") or {}).get(GPU_RESOURCE))
    tolerated = GPU_UNIT_TOLERATIONS if gpus > 0 else ()
    return all(
        any(tolerates(t, taint) for t in tolerated)
        for taint in node.get("spec", {}).get("taints") or []
        if taint.get("effect") in _BLOCKING
    )


def _requests(container: Obj) -> dict[str, float]:
    raw = (container.get("resources") or {}).get("requests") or {}
    return {name: quantity(value) for name, value in raw.items()}


def pod_requests(pod: Obj) -> dict[str, float]:
    """What the scheduler reserves for `pod` on its node (k8s resource helpers' PodRequests)."""
    spec = pod.get("spec") or {}
    apps: dict[str, float] = defaultdict(float)
    for container in spec.get("containers") or []:
        for name, amount in _requests(container).items():
            apps[name] += amount
    sidecars: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    for container in spec.get("initContainers") or []:
        own = _requests(container)
        if container.get("restartPolicy") == "Always":  # a sidecar: runs along the app
            for name, amount in own.items():
                sidecars[name] += amount
                peak[name] = max(peak[name], sidecars[name])
        else:
            for name, amount in own.items():
                peak[name] = max(peak[name], sidecars[name] + amount)
    total: dict[str, float] = defaultdict(float)
    for name in {*apps, *sidecars, *peak}:
        total[name] = max(apps[name] + sidecars[name], peak[name])
    for name, value in (spec.get("overhead") or {}).items():
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
            for name, amount in pod_requests(pod).items():
                held[node][name] += amount
    cpu_millis = memory = gpus = 0
    models: list[str] = []
    for node in nodes:
        if not takes_units(node):
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


def list_all(kube: KubeClient, path: str, *, query: list[tuple[str, str]]) -> list[Obj]:
    """Every item at `path`, in pages of PAGE_SIZE; lists again from the start when a
    continue token has expired (410). Blocking. Raises ApiStatusError."""
    for attempt in range(_EXPIRED_RETRIES):
        items: list[Obj] = []
        token = ""
        try:
            while True:
                page = [*query, ("limit", str(PAGE_SIZE))]
                if token:
                    page.append(("continue", token))
                body = kube.request("GET", path, query=page)
                items += body.get("items") or []
                token = str((body.get("metadata") or {}).get("continue") or "")
                if not token:
                    return items
        except ApiStatusError as error:
            if error.status != 410 or not token or attempt == _EXPIRED_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


class ClusterCapacity:
    """The cluster's Capacity, read at most once per `ttl_s` (the last answer in between)."""

    def __init__(self, kube: KubeClient, *, ttl_s: float) -> None:
        self._kube = kube
        self._ttl_s = ttl_s
        self._value: Capacity | None = None
        self._read_at = 0.0
        self._warned = False

    async def read(self) -> Capacity:
        if self._value is not None and time.monotonic() - self._read_at < self._ttl_s:
            return self._value
        nodes = await call("list nodes", list_all, self._kube, "/api/v1/nodes", query=[])
        query = [("fieldSelector", "status.phase!=Succeeded,status.phase!=Failed")]
        pods = await call_unless(
            "list pods", frozenset({403}), list_all, self._kube, "/api/v1/pods", query=query
        )
        if pods is None and not self._warned:
            self._warned = True  # said once: the grant is missing until an admin adds it
            log.warning(
                "cannot list pods cluster-wide (403): capacity does not subtract DaemonSet "
                "and other tenants' pods; grant the server list on pods at cluster scope"
            )
        self._value = cluster_capacity(nodes, pods or [])
        self._read_at = time.monotonic()
        return self._value
