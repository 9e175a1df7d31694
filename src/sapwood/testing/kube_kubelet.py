"""The API double's kubelet (and the scheduler in front of it): places new pods on the
first node with room, runs them at once (or leaves them Pending), fails missing commands as
containerd does, ends pods past their activeDeadlineSeconds, refuses a second node a
ReadWriteOnce claim, and terminates pods being deleted. A lost node's kubelet does nothing
(kube_nodes.py); `finish_pod` ends a pod."""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sapwood.testing.kube_nodes import (
    attach_conflict,
    is_lost,
    pick_node,
    record_pod_event,
)
from sapwood.testing.kube_store import ApiError, KubeStore, Obj, now_iso

_TERMINAL = ("Succeeded", "Failed")
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass
class KubeletSimulator:
    """Plays the scheduler and the kubelet for the double's pods.

    With `auto_run`, a new pod is bound to the first node with room (none: it stays Pending,
    Unschedulable, with the scheduler's message; no node at all: it runs unbound, as before
    nodes were modelled) and is Running at once; a pod whose command's first word is in
    `missing_commands` fails to start as containerd reports it (StartError, exit 128); a pod
    whose ReadWriteOnce claim is attached to another node waits in ContainerCreating with a
    FailedAttachVolume event until the claim is free. A pod being deleted has its container
    terminated with exit code 143 (SIGTERM), and so has one past `activeDeadlineSeconds`
    (phase Failed, reason DeadlineExceeded). Nothing happens to pods on a lost node.
    """

    auto_run: bool = True
    missing_commands: frozenset[str] = frozenset()
    _ips: itertools.count[int] = field(default_factory=lambda: itertools.count(2))
    _attaching: set[tuple[str, str]] = field(default_factory=set)  # pods waiting for a claim
    _timers: list[threading.Timer] = field(default_factory=list)

    def on_created(self, store: KubeStore, pod: Obj) -> None:
        if not self.auto_run:
            return
        nodes = store.list("nodes", "")[0]
        if nodes:
            node, why = pick_node(pod, nodes, store.list("pods", "")[0])
            if node is None:
                store.set_pod_status(_ns(pod), _name(pod), _unschedulable(why))
                return
            pod = _bind(store, pod, node)
            if self._must_wait_for_claims(store, pod):
                return
        self._run(store, pod)

    def _must_wait_for_claims(self, store: KubeStore, pod: Obj) -> bool:
        node = pod["spec"]["nodeName"]
        claim_objs = {
            c["metadata"]["name"]: c for c in store.list("persistentvolumeclaims", _ns(pod))[0]
        }
        conflict = attach_conflict(pod, node, store.list("pods", _ns(pod))[0], claim_objs)
        key = (_ns(pod), _name(pod))
        if conflict is None:
            self._attaching.discard(key)
            return False
        if key not in self._attaching:
            self._attaching.add(key)
            containers = pod.get("spec", {}).get("containers") or [{"name": "main"}]
            waiting = {"waiting": {"reason": "ContainerCreating"}}
            status = pod_status("Pending", containers, waiting, pod_spec=pod.get("spec"))
            store.set_pod_status(_ns(pod), _name(pod), status)
            record_pod_event(
                store, pod, "FailedAttachVolume", conflict, component="attachdetach-controller"
            )
        return True

    def _run(self, store: KubeStore, pod: Obj) -> None:
        containers = pod.get("spec", {}).get("containers") or [{"name": "main"}]
        command = containers[0].get("command") or []
        if command and command[0] in self.missing_commands:
            message = f'exec: "{command[0]}": executable file not found in $PATH: unknown'
            state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": message,
                    "startedAt": now_iso(),
                    "finishedAt": now_iso(),
                }
            }
            failed = pod_status("Failed", containers, state, pod_spec=pod.get("spec"))
            store.set_pod_status(_ns(pod), _name(pod), failed)
            return
        running = {"running": {"startedAt": now_iso()}}
        status = pod_status("Running", containers, running, pod_spec=pod.get("spec"))
        status["podIP"] = f"10.0.0.{next(self._ips)}"
        store.set_pod_status(_ns(pod), _name(pod), status)

    def on_deleting(self, store: KubeStore, pod: Obj) -> None:
        if pod.get("status", {}).get("phase") in _TERMINAL or not self.auto_run:
            return  # finished, or never placed on a node: no kubelet reports anything
        if _on_lost_node(store, pod):
            return  # no kubelet answers: the pod stays Terminating
        self._attaching.discard((_ns(pod), _name(pod)))
        finish_pod(store, _ns(pod), _name(pod), exit_code=143)

    def on_changed(self, store: KubeStore, plural: str, type_: str, obj: Obj) -> None:
        """Retries waiting attachments when a pod ends or goes; enforces deadlines."""
        if plural != "pods" or not self.auto_run:
            return
        ended = type_ == "DELETED" or obj.get("status", {}).get("phase") in _TERMINAL
        if ended and self._attaching:
            for namespace, name in sorted(self._attaching):
                live = store.objects.get(("pods", namespace, name))
                if live is None or live["metadata"].get("deletionTimestamp"):
                    self._attaching.discard((namespace, name))
                elif not self._must_wait_for_claims(store, live):
                    self._run(store, live)
        if type_ == "MODIFIED" and not ended:
            self._check_deadline(store, obj)

    def _check_deadline(self, store: KubeStore, pod: Obj) -> None:
        deadline = pod.get("spec", {}).get("activeDeadlineSeconds")
        started = pod.get("status", {}).get("startTime")
        if deadline is None or not started or _on_lost_node(store, pod):
            return
        elapsed = _seconds_since(started)
        if elapsed < int(deadline):
            timer = threading.Timer(int(deadline) - elapsed + 0.05, self._recheck, (store, pod))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
            return
        finish_pod(store, _ns(pod), _name(pod), exit_code=143)
        live = store.objects.get(("pods", _ns(pod), _name(pod)))
        if live is not None:
            status = copy.deepcopy(live["status"])
            status.update(phase="Failed", reason="DeadlineExceeded", message=DEADLINE_MESSAGE)
            store.set_pod_status(_ns(pod), _name(pod), status)

    def _recheck(self, store: KubeStore, pod: Obj) -> None:
        with store.lock:
            live = store.objects.get(("pods", _ns(pod), _name(pod)))
            if live is not None and live.get("status", {}).get("phase") not in _TERMINAL:
                self._check_deadline(store, live)

    def after_restore(self, store: KubeStore, pods: list[Obj]) -> None:
        """A node back: its kubelet ends the pods deleted meanwhile and reports the rest."""
        for pod in pods:
            if pod.get("status", {}).get("phase") in _TERMINAL:
                continue
            if pod["metadata"].get("deletionTimestamp"):
                finish_pod(store, _ns(pod), _name(pod), exit_code=143)
                continue
            status = copy.deepcopy(pod.get("status") or {})
            for condition in status.get("conditions") or []:
                if condition.get("type") == "Ready":
                    condition["status"] = "True"
            store.set_pod_status(_ns(pod), _name(pod), status)


def _seconds_since(text: str) -> int:
    then = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((datetime.now(UTC) - then).total_seconds())


def _on_lost_node(store: KubeStore, pod: Obj) -> bool:
    node = store.objects.get(("nodes", "", pod.get("spec", {}).get("nodeName") or ""))
    return node is not None and is_lost(node)


def _bind(store: KubeStore, pod: Obj, node: str) -> Obj:
    """The scheduler's binding (pods/binding sets spec.nodeName), with PodScheduled True."""
    live = store.objects.get(("pods", _ns(pod), _name(pod)))
    if live is None:
        raise ApiError(404, "NotFound", f'pods "{_name(pod)}" not found')
    live["spec"]["nodeName"] = node
    status = copy.deepcopy(live.get("status") or {})
    status["conditions"] = [{"type": "PodScheduled", "status": "True"}]
    return store.set_pod_status(_ns(pod), _name(pod), status)


def _unschedulable(message: str) -> Obj:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastTransitionTime": now_iso(),
    }
    return {"phase": "Pending", "conditions": [condition]}


def _ns(obj: Obj) -> str:
    return str(obj["metadata"].get("namespace", ""))


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _native_sidecars(pod_spec: Obj) -> list[Obj]:
    """Init containers with restartPolicy Always: they run beside the main containers."""
    init = pod_spec.get("initContainers") or []
    return [c for c in init if c.get("restartPolicy") == "Always"]


def _container_status(container: Obj, state: Obj) -> Obj:
    return {
        "name": container.get("name", "main"),
        "image": container.get("image", ""),
        "imageID": "",
        "ready": "running" in state,
        "restartCount": 0,
        "state": copy.deepcopy(state),
    }


def pod_status(
    phase: str, containers: list[Obj], state: Obj, *, pod_spec: Obj | None = None
) -> Obj:
    """A pod status as a kubelet writes it: one container status per container, sorted by
    name as the kubelet reports them (an injected "istio-proxy" comes before "main"), and
    native sidecars of `pod_spec` running in initContainerStatuses."""
    running = "running" in state
    status: Obj = {
        "phase": phase,
        "startTime": now_iso(),
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if running else "False"},
        ],
        "containerStatuses": sorted(
            (_container_status(c, state) for c in containers), key=lambda cs: cs["name"]
        ),
    }
    sidecars = _native_sidecars(pod_spec or {})
    if sidecars:
        started = {"running": {"startedAt": now_iso()}}
        status["initContainerStatuses"] = [_container_status(c, started) for c in sidecars]
    return status


def _terminated(cs: Obj, exit_code: int, reason: str | None) -> Obj:
    started = cs.get("state", {}).get("running", {}).get("startedAt", now_iso())
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": started,
            "finishedAt": now_iso(),
        }
    }


def finish_pod(
    store: KubeStore,
    namespace: str,
    name: str,
    *,
    exit_code: int,
    reason: str | None = None,
    container: str | None = None,
) -> Obj:
    """Terminate a pod's containers with `exit_code` (only `container`, when named), as
    the kubelet reports it. The pod ends (Succeeded when every container exited 0, else
    Failed) once all its regular containers have: an injected sidecar that keeps running
    keeps the pod Running; native sidecars are stopped when the main containers end."""
    pod = store.get("pods", namespace, name)
    status = copy.deepcopy(pod.get("status") or {})
    statuses = status.get("containerStatuses", [])
    for cs in statuses:
        if container is None or cs.get("name") == container:
            cs["ready"] = False
            cs["state"] = _terminated(cs, exit_code, reason)
    ended = [(cs.get("state") or {}).get("terminated") for cs in statuses]
    if all(ended):
        for cs in status.get("initContainerStatuses", []):
            if "running" in (cs.get("state") or {}):
                cs["ready"] = False
                cs["state"] = _terminated(cs, 0, None)
        codes = [int(t.get("exitCode", 0)) for t in ended if t] or [exit_code]
        status["phase"] = "Succeeded" if not any(codes) else "Failed"
    return store.set_pod_status(namespace, name, status)
