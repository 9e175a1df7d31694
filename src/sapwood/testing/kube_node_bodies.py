"""Nodes and DaemonSet pods for the API double (the `NodeHooks` tests call), shaped as a
kubelet and the DaemonSet controller write them.

A node reports `allocatable` and `capacity`, a `Ready` condition (True, or False with
reason KubeletNotReady as a kubelet with a broken runtime reports it), its taints, and the
labels the kubelet and GPU Feature Discovery set. The node lifecycle controller taints a
NotReady node with `node.kubernetes.io/not-ready:NoSchedule`, and cordoning adds
`node.kubernetes.io/unschedulable:NoSchedule` next to `spec.unschedulable`. A DaemonSet pod
is bound to its node (`spec.nodeName`), owned by its DaemonSet, and tolerates what the
DaemonSet controller adds to every daemon pod.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sapwood.testing.kube_store import KubeStore, Obj, now_iso

NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}

# What the DaemonSet controller adds to every daemon pod (pkg/controller/daemon/util).
_DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def node_body(
    name: str,
    *,
    cpu: str,
    memory: str,
    gpus: int,
    gpu_product: str | None,
    unschedulable: bool,
    taints: Sequence[Obj],
    ready: bool,
) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    labels = {"kubernetes.io/hostname": name}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    if gpu_product:
        labels["nvidia.com/gpu.product"] = gpu_product
    all_taints = [dict(t) for t in taints]
    if unschedulable:
        all_taints.append({**UNSCHEDULABLE_TAINT, "timeAdded": now_iso()})
    if not ready:
        all_taints.append({**NOT_READY_TAINT, "timeAdded": now_iso()})
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status"
        if ready
        else "container runtime network not ready: NetworkReady=false",
        "lastHeartbeatTime": now_iso(),
        "lastTransitionTime": now_iso(),
    }
    spec: Obj = {"unschedulable": unschedulable}
    if all_taints:
        spec["taints"] = all_taints
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "allocatable": allocatable,
            "capacity": dict(allocatable),
            "conditions": [condition],
        },
    }


def daemon_pod_body(daemon_set: str, node: str, *, requests: dict[str, str]) -> Obj:
    """A pod of DaemonSet `daemon_set` on `node`, requesting `requests`."""
    return {
        "metadata": {
            "name": f"{daemon_set}-{uuid.uuid4().hex[:5]}",
            "labels": {"app.kubernetes.io/name": daemon_set},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": daemon_set,
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, daemon_set)),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "nodeName": node,
            "tolerations": [dict(t) for t in _DAEMON_TOLERATIONS],
            "containers": [
                {
                    "name": daemon_set,
                    "image": "registry.k8s.io/pause:3.9",
                    "resources": {"requests": dict(requests)},
                }
            ],
        },
    }


class NodeHooks:
    """The API double's test hooks for nodes and DaemonSet pods (mixed into KubeApiDouble)."""

    store: KubeStore

    def add_node(
        self,
        name: str,
        *,
        cpu: str = "8",
        memory: str = "32Gi",
        gpus: int = 0,
        gpu_product: str | None = None,
        unschedulable: bool = False,
        taints: list[Obj] | None = None,
        ready: bool = True,
    ) -> Obj:
        """A node as its kubelet registers it; `ready=False`: Ready False (KubeletNotReady)
        and the not-ready taint; `taints`: e.g. [{"key": "nvidia.com/gpu", "effect":
        "NoSchedule"}] or the control plane's node-role.kubernetes.io/control-plane."""
        body = node_body(
            name,
            cpu=cpu,
            memory=memory,
            gpus=gpus,
            gpu_product=gpu_product,
            unschedulable=unschedulable,
            taints=taints or [],
            ready=ready,
        )
        return self.store.create("nodes", "", body)

    def add_daemon_pod(
        self, daemon_set: str, node: str, *, namespace: str = "kube-system", **requests: str
    ) -> Obj:
        """A running pod of DaemonSet `daemon_set` bound to `node`, requesting `requests`
        (cpu="100m", memory="128Mi"), as the DaemonSet controller makes one per node."""
        with self.store.lock:
            if ("namespaces", "", namespace) not in self.store.objects:
                self.store.create("namespaces", "", {"metadata": {"name": namespace}})
            return self.store.create(
                "pods", namespace, daemon_pod_body(daemon_set, node, requests=requests)
            )
