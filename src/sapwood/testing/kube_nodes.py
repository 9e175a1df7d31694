"""Nodes for the API double: where the scheduler may place a pod, what the node lifecycle
controller does when a node's kubelet stops reporting, and the attach/detach controller's
read-write-once rule.

Pure decisions (`unfit_reason`, `pick_node`, `attach_conflict`) take plain objects; the
functions that change the store (`lose_node`, `restore_node`, `evict_lost_pods`,
`record_pod_event`) run under the store's lock as the real controllers' writes would. What
the real ones do:

- A node whose kubelet stops posting status gets the Ready condition Unknown (reason
  NodeStatusUnknown, "Kubelet stopped posting node status.") and the
  `node.kubernetes.io/unreachable` taints (NoSchedule, NoExecute); its pods' Ready
  condition turns False (MarkPodsNotReady).
- After the NoExecute toleration (300 s by default, here a hook: no sleeping) the taint
  manager adds the DisruptionTarget condition (DeletionByTaintManager) and deletes the
  pods; with no kubelet to confirm they stay Terminating until force-deleted.
- A pod mounting a ReadWriteOnce claim already used by a pod on another node waits in
  ContainerCreating with a FailedAttachVolume Warning ("Multi-Attach error ..."). Here a
  claim is free once its other pods ended or left the store (the real controller also
  waits for the detach, up to 6 minutes for a node that is gone).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections import Counter

from sapwood.testing.kube_store import KubeStore, Obj, now_iso

UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
_TERMINAL = ("Succeeded", "Failed")
_RESOURCES = ("cpu", "memory", "nvidia.com/gpu")
_SUFFIXES = {
    "m": 0.001,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")


def quantity(text: object) -> float:
    """A resource quantity ("500m", "16Gi", "2") as a number; 0 when absent."""
    if text is None:
        return 0.0
    match = _QUANTITY.match(str(text))
    if match is None:
        return 0.0
    return float(match.group(1)) * _SUFFIXES.get(match.group(2), 1.0)


def _condition(obj: Obj, type_: str) -> Obj | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)


def is_lost(node: Obj) -> bool:
    """Whether the node's kubelet stopped reporting (Ready Unknown)."""
    ready = _condition(node, "Ready")
    return ready is not None and ready.get("status") == "Unknown"


def is_ready(node: Obj) -> bool:
    """Ready True, or no Ready condition at all (nodes added without conditions)."""
    ready = _condition(node, "Ready")
    return ready is None or ready.get("status") == "True"


def tolerates(pod: Obj, taint: Obj) -> bool:
    for toleration in (pod.get("spec") or {}).get("tolerations") or []:
        key, effect = toleration.get("key", ""), toleration.get("effect", "")
        if key and key != taint.get("key"):
            continue
        if effect and effect != taint.get("effect"):
            continue
        exists = toleration.get("operator") == "Exists"
        if exists or toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def requests(pod: Obj) -> dict[str, float]:
    total: dict[str, float] = dict.fromkeys(_RESOURCES, 0.0)
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for name in _RESOURCES:
            total[name] += quantity(wanted.get(name))
    return total


def _affinity_nodes(pod: Obj) -> set[str] | None:
    """Node names a required node affinity allows (metadata.name or hostname terms); None
    when it does not restrict names."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    allowed: set[str] | None = None
    for term in required.get("nodeSelectorTerms") or []:
        expressions = [*(term.get("matchFields") or []), *(term.get("matchExpressions") or [])]
        for expression in expressions:
            if expression.get("key") in ("metadata.name", "kubernetes.io/hostname"):
                values = set(expression.get("values") or [])
                allowed = values if allowed is None else allowed | values
    return allowed


def unfit_reason(pod: Obj, node: Obj, used: dict[str, float]) -> str | None:
    """Why the scheduler would not place `pod` on `node` (the phrase its message counts),
    or None when it fits. `used` is what the node's other pods request."""
    meta = node["metadata"]
    if (node.get("spec") or {}).get("unschedulable"):
        return "node(s) were unschedulable"
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    if not is_ready(node):
        return "node(s) were not ready"
    labels = meta.get("labels") or {}
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    allowed = _affinity_nodes(pod)
    if any(labels.get(k) != v for k, v in selector.items()) or (
        allowed is not None and meta["name"] not in allowed
    ):
        return "node(s) didn't match Pod's node affinity/selector"
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    for name, amount in requests(pod).items():
        if amount and amount + used.get(name, 0.0) > quantity(allocatable.get(name)):
            return f"Insufficient {name}"
    return None


def pick_node(pod: Obj, nodes: list[Obj], pods: list[Obj]) -> tuple[str | None, str]:
    """(the first node with room, "") or (None, the scheduler's FailedScheduling message)."""
    reasons: Counter[str] = Counter()
    for node in nodes:
        name = node["metadata"]["name"]
        used: dict[str, float] = dict.fromkeys(_RESOURCES, 0.0)
        for other in pods:
            on_node = (other.get("spec") or {}).get("nodeName") == name
            if on_node and (other.get("status") or {}).get("phase") not in _TERMINAL:
                for resource, amount in requests(other).items():
                    used[resource] += amount
        reason = unfit_reason(pod, node, used)
        if reason is None:
            return name, ""
        reasons[reason] += 1
    detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return None, f"0/{len(nodes)} nodes are available: {detail}."


def claims(pod: Obj) -> list[str]:
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return [
        v["persistentVolumeClaim"]["claimName"] for v in volumes if v.get("persistentVolumeClaim")
    ]


def attach_conflict(pod: Obj, node: str, pods: list[Obj], claim_objs: dict[str, Obj]) -> str | None:
    """The attach/detach controller's Multi-Attach message when a ReadWriteOnce claim the
    pod mounts is in use by a pod on another node; None when every volume can attach."""
    namespace = pod["metadata"].get("namespace", "")
    for claim in claims(pod):
        obj = claim_objs.get(claim)
        modes = ((obj or {}).get("spec") or {}).get("accessModes") or []
        if obj is None or "ReadWriteOnce" not in modes:
            continue
        users = [
            other["metadata"]["name"]
            for other in pods
            if other["metadata"].get("namespace") == namespace
            and other["metadata"]["name"] != pod["metadata"]["name"]
            and (other.get("spec") or {}).get("nodeName") not in (None, node)
            and (other.get("status") or {}).get("phase") not in _TERMINAL
            and claim in claims(other)
        ]
        if users:
            volume = (obj.get("spec") or {}).get("volumeName") or f"pvc-{obj['metadata']['uid']}"
            return (
                f'Multi-Attach error for volume "{volume}" Volume is already used by pod(s) '
                + ", ".join(sorted(users))
            )
    return None


# --- what the node lifecycle controller writes ---------------------------------------


def _set_condition(status: Obj, condition: Obj) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]]
    status["conditions"] = [*conditions, condition]


def _write_node(store: KubeStore, node: Obj) -> Obj:
    change = {
        "spec": {"taints": node["spec"]["taints"]},
        "status": {"conditions": node["status"]["conditions"]},
    }
    return store.patch("nodes", "", node["metadata"]["name"], change, status=False)


def pods_on(store: KubeStore, node: str) -> list[Obj]:
    return [
        copy.deepcopy(p)
        for (plural, _, _), p in list(store.objects.items())
        if plural == "pods" and (p.get("spec") or {}).get("nodeName") == node
    ]


def lose_node(store: KubeStore, name: str) -> Obj:
    """The node's kubelet stops reporting: Ready Unknown, unreachable taints, its pods'
    Ready condition False."""
    with store.lock:
        node = copy.deepcopy(store.objects[("nodes", "", name)])
        now = now_iso()
        status = node.setdefault("status", {})
        _set_condition(
            status,
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            },
        )
        spec = node.setdefault("spec", {})
        others = [t for t in spec.get("taints") or [] if t.get("key") != UNREACHABLE_TAINT]
        spec["taints"] = [
            *others,
            {"key": UNREACHABLE_TAINT, "effect": "NoSchedule", "timeAdded": now},
            {"key": UNREACHABLE_TAINT, "effect": "NoExecute", "timeAdded": now},
        ]
        updated = _write_node(store, node)
        for pod in pods_on(store, name):
            pod_status = copy.deepcopy(pod.get("status") or {})
            ready = _condition(pod, "Ready")
            if pod_status.get("phase") in _TERMINAL or ready is None:
                continue
            _set_condition(pod_status, {**ready, "status": "False", "lastTransitionTime": now})
            store.set_pod_status(pod["metadata"]["namespace"], pod["metadata"]["name"], pod_status)
        return updated


def restore_node(store: KubeStore, name: str) -> list[Obj]:
    """The node reports again: Ready True, no unreachable taints. Returns its pods (the
    kubelet then ends those deleted meanwhile: KubeletSimulator.after_restore)."""
    with store.lock:
        node = copy.deepcopy(store.objects[("nodes", "", name)])
        now = now_iso()
        _set_condition(
            node.setdefault("status", {}),
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            },
        )
        spec = node.setdefault("spec", {})
        spec["taints"] = [t for t in spec.get("taints") or [] if t.get("key") != UNREACHABLE_TAINT]
        _write_node(store, node)
        return pods_on(store, name)


def evict_lost_pods(store: KubeStore, name: str) -> list[str]:
    """The taint manager once the NoExecute toleration ran out: DisruptionTarget, then a
    graceful delete that no kubelet confirms. Returns the names of the pods it deleted."""
    deleted = []
    with store.lock:
        for pod in pods_on(store, name):
            meta = pod["metadata"]
            phase = (pod.get("status") or {}).get("phase")
            if phase in _TERMINAL or meta.get("deletionTimestamp"):
                continue
            status = copy.deepcopy(pod.get("status") or {})
            _set_condition(
                status,
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByTaintManager",
                    "message": "Taint manager: deleting due to NoExecute taint",
                    "lastTransitionTime": now_iso(),
                },
            )
            namespace = meta["namespace"]
            store.set_pod_status(namespace, meta["name"], status)
            record_pod_event(
                store,
                pod,
                "TaintManagerEviction",
                f"Marking for deletion Pod {namespace}/{meta['name']}",
                component="taint-eviction-controller",
                warning=False,
            )
            store.delete("pods", namespace, meta["name"], propagation="Background")
            deleted.append(meta["name"])
    return deleted


def record_pod_event(
    store: KubeStore, pod: Obj, reason: str, message: str, *, component: str, warning: bool = True
) -> Obj:
    """An Event about the pod, as a controller's event recorder writes it."""
    meta = pod["metadata"]
    now = now_iso()
    body = {
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid", ""),
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "reportingComponent": component,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    return store.create("events", meta["namespace"], body)
