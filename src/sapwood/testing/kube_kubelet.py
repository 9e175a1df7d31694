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
            store.set_pod_status(_ns(pod), _name(pod), pod_status("Failed", containers, state))
            return
        status = pod_status("Running", containers, {"running": {"startedAt": now_iso()}})
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


def pod_status(phase: str, containers: list[Obj], state: Obj) -> Obj:
    """A pod status as a kubelet writes it, with one container status per container."""
    running = "running" in state
    return {
        "phase": phase,
        "startTime": now_iso(),
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if running else "False"},
        ],
        "containerStatuses": [
            {
                "name": c.get("name", "main"),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": running,
                "restartCount": 0,
                "state": copy.deepcopy(state),
            }
            for c in containers
        ],
    }


def finish_pod(
    store: KubeStore, namespace: str, name: str, *, exit_code: int, reason: str | None = None
) -> Obj:
    """Terminate a pod's containers with `exit_code`, as the kubelet reports it."""
    pod = store.get("pods", namespace, name)
    status = copy.deepcopy(pod.get("status") or {})
    started = now_iso()
    for cs in status.get("containerStatuses", []):
        started = cs.get("state", {}).get("running", {}).get("startedAt", started)
        cs["ready"] = False
        cs["state"] = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                "startedAt": started,
                "finishedAt": now_iso(),
            }
        }
    status["phase"] = "Succeeded" if exit_code == 0 else "Failed"
    return store.set_pod_status(namespace, name, status)
