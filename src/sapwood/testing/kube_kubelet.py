"""The API double's kubelet: runs new pods at once (or leaves them Pending), fails missing
commands as containerd does, and terminates pods being deleted; `finish_pod` ends one."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field

from sapwood.testing.kube_store import KubeStore, Obj, now_iso

_TERMINAL = ("Succeeded", "Failed")


@dataclass
class KubeletSimulator:
    """Plays the kubelet for the double's pods.

    With `auto_run`, a new pod is Running at once; a pod whose command's first word is in
    `missing_commands` fails to start as containerd reports it (StartError, exit 128).
    A pod being deleted has its container terminated with exit code 143 (SIGTERM).
    """

    auto_run: bool = True
    missing_commands: frozenset[str] = frozenset()
    _ips: itertools.count[int] = field(default_factory=lambda: itertools.count(2))

    def on_created(self, store: KubeStore, pod: Obj) -> None:
        if not self.auto_run:
            return
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
        finish_pod(store, _ns(pod), _name(pod), exit_code=143)


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
