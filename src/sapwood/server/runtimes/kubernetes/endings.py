"""How a unit's pod is let go, and what the cluster says about pods that do not run.

- `release`: removes the `sapwood.dev/unit` finalizer with a merge patch that carries the
  pod's resourceVersion, so the API server applies it only to the copy it was computed
  from (409 Conflict otherwise: read again, recompute). A finalizer another party removed
  meanwhile (the garbage collector's foregroundDeletion, say) is never put back.
- `end_pod`, `await_end`: how stop() ends a pod and waits for it (runtime.py says why).
- `pin_to_claim_holder`: a new pod follows a live pod that mounts the same claim.
- `ClusterSignals`: which nodes stopped reporting (a node list, read at most every
  `ttl_s` and only while a pod looks unwell) and the latest FailedAttachVolume message per
  pod (an event list per namespace, likewise throttled).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from sapwood.server.runtimes.base import RuntimeTemporaryError
from sapwood.server.runtimes.kubernetes import manifests as m
from sapwood.server.runtimes.kubernetes.calls import call, call_unless
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate
from sapwood.server.runtimes.kubernetes.states import condition, is_exited, parse_time

log = logging.getLogger("sapwood.runtime.kubernetes")

Obj = dict[str, Any]

_ATTEMPTS = 5
_FORBIDDEN = frozenset({403})


def pods_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")


def holds_finalizer(pod: Obj) -> bool:
    return m.FINALIZER in (pod["metadata"].get("finalizers") or [])


async def release(kube: KubeClient, pod: Obj) -> Obj | None:
    """The pod without Sapwood's finalizer (None once it is gone); guarded by the pod's
    resourceVersion, rereading on each conflict. Idempotent."""
    meta = pod["metadata"]
    path = pods_path(meta["namespace"], meta["name"])
    current: Obj | None = pod
    for _ in range(_ATTEMPTS):
        if current is None or not holds_finalizer(current):
            return current
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != m.FINALIZER]
        version = current["metadata"].get("resourceVersion")
        patch = {"metadata": {"resourceVersion": version, "finalizers": finalizers}}
        try:
            return await asyncio.to_thread(kube.merge_patch, path, patch)
        except ApiStatusError as error:
            if error.status == 404:
                return None
            if error.status != 409:
                raise translate(error, action="release a pod") from error
        current = await call("read a pod", kube.get, path)
    raise RuntimeTemporaryError(f"pod {meta['namespace']}/{meta['name']} kept changing")


def lost_nodes(nodes: list[Obj]) -> dict[str, str]:
    """Nodes whose kubelet stopped reporting (Ready Unknown), with since when."""
    out = {}
    for node in nodes:
        ready = condition(node, "Ready")
        if ready is not None and ready.get("status") == "Unknown":
            out[node["metadata"]["name"]] = str(ready.get("lastTransitionTime") or "unknown")
    return out


def looks_unwell(pod: Obj) -> bool:
    """A bound pod that is not Ready, or is being deleted: worth asking about its node."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    if pod["metadata"].get("deletionTimestamp"):
        return True
    conditions = (pod.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    return ready is None or ready.get("status") != "True"


def is_attaching(pod: Obj) -> bool:
    """Waiting in ContainerCreating with a volume claim: maybe a Multi-Attach refusal."""
    volumes = (pod.get("spec") or {}).get("volumes") or []
    if not any(v.get("persistentVolumeClaim") for v in volumes):
        return False
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(
        ((s.get("state") or {}).get("waiting") or {}).get("reason") == "ContainerCreating"
        for s in statuses
    )


class ClusterSignals:
    """Lost nodes and attach errors, read lazily and at most every `ttl_s`."""

    def __init__(self, kube: KubeClient, *, ttl_s: float = 5.0) -> None:
        self._kube = kube
        self._ttl_s = ttl_s
        self._lost: dict[str, str] = {}
        self._nodes_read_at = -float("inf")
        self._attach: dict[str, dict[str, str]] = {}  # namespace -> pod -> message
        self._events_read_at: dict[str, float] = {}

    def forget_nodes(self) -> None:
        """The next lost_nodes() reads the nodes again (after a stop timed out, say)."""
        self._nodes_read_at = -float("inf")

    async def lost_nodes(self) -> dict[str, str]:
        if time.monotonic() - self._nodes_read_at >= self._ttl_s:
            body = await call("list nodes", self._kube.request, "GET", "/api/v1/nodes")
            self._lost = lost_nodes(body.get("items") or [])
            self._nodes_read_at = time.monotonic()
        return self._lost

    async def attach_errors(self, namespace: str) -> dict[str, str]:
        """Pod name -> its latest FailedAttachVolume message (none without events rights)."""
        if time.monotonic() - self._events_read_at.get(namespace, -float("inf")) >= self._ttl_s:
            query = [("fieldSelector", "involvedObject.kind=Pod,reason=FailedAttachVolume")]
            path = f"/api/v1/namespaces/{namespace}/events"
            body = await call_unless(
                "list events", _FORBIDDEN, self._kube.request, "GET", path, query=query
            )
            events = sorted(
                (body or {}).get("items") or [], key=lambda e: str(e.get("lastTimestamp") or "")
            )
            self._attach[namespace] = {
                e["involvedObject"]["name"]: str(e.get("message") or "") for e in events
            }
            self._events_read_at[namespace] = time.monotonic()
        return self._attach.get(namespace, {})


# --- stopping ----------------------------------------------------------------------------


async def end_pod(kube: KubeClient, pod: Obj, *, grace: int) -> None:
    """Ends a running pod in place when its own grace period is what is asked: a lower
    `spec.activeDeadlineSeconds` (it may only decrease) makes its kubelet stop it as at a
    deadline, and the object, its final state and its logs stay. Otherwise (a shorter
    grace, or a pod no node runs) deletes it with `grace`."""
    meta, spec = pod["metadata"], pod["spec"]
    path = pods_path(meta["namespace"], meta["name"])
    own = int(spec.get("terminationGracePeriodSeconds", 30))
    if spec.get("nodeName") and grace >= own and not meta.get("deletionTimestamp"):
        started = parse_time((pod.get("status") or {}).get("startTime"))
        elapsed = (datetime.now(UTC) - started).total_seconds() if started else 0
        deadline = max(1, math.floor(elapsed))
        existing = spec.get("activeDeadlineSeconds")
        if existing is None or int(existing) > deadline:
            change = {"spec": {"activeDeadlineSeconds": deadline}}
            await call("end a pod", kube.merge_patch, path, change)
        return
    await call("delete a pod", kube.delete, path, propagation="Foreground", grace_period_s=grace)


async def await_end(
    kube: KubeClient,
    signals: ClusterSignals,
    pod: Obj,
    *,
    grace: int,
    slack_s: float,
    poll_s: float,
) -> Obj | None:
    """The pod once its containers ended (None once it is gone). A pod whose node is lost
    is force-deleted (grace 0) once `grace` is over, since no kubelet would ever confirm;
    RuntimeTemporaryError past grace + `slack_s`."""
    meta = pod["metadata"]
    path = pods_path(meta["namespace"], meta["name"])
    began = time.monotonic()
    while True:
        live = await call("read a pod", kube.get, path)
        if live is None or is_exited(live):
            return live
        waited = time.monotonic() - began
        if waited >= grace and await _on_lost_node(signals, live):
            log.warning("pod %s is on a lost node: force-deleting it", path)
            await call(
                "force-delete a pod", kube.delete, path, propagation="Background", grace_period_s=0
            )
            continue
        if waited > grace + slack_s:
            raise RuntimeTemporaryError(f"pod {meta['namespace']}/{meta['name']} is still ending")
        await asyncio.sleep(poll_s)


async def _on_lost_node(signals: ClusterSignals, pod: Obj) -> bool:
    node = pod["spec"].get("nodeName")
    if not node:
        return False
    signals.forget_nodes()
    return node in await signals.lost_nodes()


def _claims(pod_spec: Obj) -> set[str]:
    volumes = pod_spec.get("volumes") or []
    return {
        v["persistentVolumeClaim"]["claimName"] for v in volumes if v.get("persistentVolumeClaim")
    }


def pin_to_claim_holder(manifest: Obj, pods: list[Obj]) -> None:
    """Requires the node where a live pod already mounts one of the manifest's claims, so
    that a read-write-once claim is not asked of a second node (a Multi-Attach refusal)."""
    spec = manifest["spec"]
    wanted = _claims(spec)
    holders = {
        pod["spec"]["nodeName"]
        for pod in pods
        if wanted & _claims(pod["spec"]) and pod["spec"].get("nodeName") and not is_exited(pod)
    }
    if len(holders) != 1:
        return  # none to follow, or already split over nodes: the scheduler chooses
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [*holders]}]}
    affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
