"""From a Pod to the unit's state (pure).

A pod that is Pending or Running is a RUNNING unit; while it is not actually running its
`reason` says why and `message` gives the cluster's words: "Unschedulable" (the
scheduler's message), "ImagePullBackOff"/"ErrImagePull", "CrashLoopBackOff",
"CreateContainerConfigError". A pod whose containers all terminated (or whose phase is
Succeeded/Failed) is an EXITED unit: "Stopped" if stop() asked, else "OOMKilled",
"Evicted", "CommandNotFound" (the runtime failed to exec), "Completed" or "Error" by exit
code, "Killed" when the pod ended without a container exit (deadline, a force delete).

Lost nodes (`PodContext.node_lost_since`, from the node's Ready condition): a pod whose
node stopped reporting is a RUNNING unit with reason "NodeLost" and a message naming the
node and since when, even once the taint manager deleted it (DisruptionTarget): nothing
confirms its containers ended. It becomes EXITED "NodeLost" only when the API server gave
up on it: force-deleted (grace 0) or gone (`PodContext.gone`, the informer's last copy of
a deleted pod). A pod deleted by someone else says so in its exit message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sapwood.manifests.pods import CONTAINER_NAME
from sapwood.server.runtimes.base import UnitPhase, UnitReason, UnitState
from sapwood.server.runtimes.kubernetes.manifests import (
    CONTAINER_PORT,
    GENERATION,
    STOP_REQUESTED,
    WANTS_PORT,
    key_of,
)

Obj = dict[str, Any]

EVICTED = "Evicted"
UNSCHEDULABLE = "Unschedulable"
_TERMINAL = ("Succeeded", "Failed")
_NOT_FOUND = ("executable file not found", "no such file or directory")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _main_status(pod: Obj) -> Obj:
    """The status of the unit's own container ("main"). The kubelet sorts statuses by
    container name, so an injected sidecar ("istio-proxy") may come first; a pod with no
    "main" (made by something else) reads its first container."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    named = [s for s in statuses if s.get("name") == CONTAINER_NAME]
    return named[0] if named else (statuses[0] if statuses else {})


@dataclass(frozen=True)
class PodContext:
    """What the runtime knows about a pod beyond the pod itself."""

    node_lost_since: str | None = None  # its node's Ready went Unknown at this time
    attach_error: str | None = None  # the latest FailedAttachVolume message about it
    gone: bool = False  # deleted from the API server: this is its last known copy


def is_force_deleted(pod: Obj) -> bool:
    """Deleted with grace 0: the API server stopped waiting for the kubelet."""
    meta = pod["metadata"]
    return bool(meta.get("deletionTimestamp")) and meta.get("deletionGracePeriodSeconds") == 0


def is_exited(pod: Obj) -> bool:
    status = pod.get("status", {})
    if status.get("phase") in _TERMINAL or is_force_deleted(pod):
        return True
    statuses = status.get("containerStatuses") or []
    if pod["metadata"].get("deletionTimestamp") and not statuses:
        return True  # deleted before any container was created (unschedulable): no kubelet
    # The unit is its main container: once that ended, a sidecar a mesh injected (which
    # keeps the pod Running, as it never exits by itself) does not keep the unit running.
    return "terminated" in (_main_status(pod).get("state") or {})


def condition(obj: Obj, type_: str) -> Obj | None:
    """The condition of `type_` in a pod's or node's status; None when it has none."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)


def _node_lost(pod: Obj, since: str) -> str:
    """Why a pod on a lost node is not known to run, in words a user can act on."""
    node = pod.get("spec", {}).get("nodeName") or "its node"
    words = [f"node {node} stopped reporting at {since}; the pod may still run there"]
    disruption = condition(pod, "DisruptionTarget")
    if disruption is not None and disruption.get("status") == "True":
        words.append(f"{disruption.get('reason')}: {disruption.get('message')}")
    if pod["metadata"].get("deletionTimestamp"):
        words.append("deleted; waiting for the node to confirm, or for a force delete")
    return "; ".join(words)


def _waiting(pod: Obj, context: PodContext) -> tuple[str | None, str | None]:
    if context.node_lost_since is not None:
        return UnitReason.NODE_LOST, _node_lost(pod, context.node_lost_since)
    if context.attach_error is not None:
        return "FailedAttachVolume", context.attach_error
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return condition.get("reason") or UNSCHEDULABLE, condition.get("message")
    waiting = (_main_status(pod).get("state") or {}).get("waiting")
    if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
        return waiting["reason"], waiting.get("message")
    return None, None


def _exit(pod: Obj, context: PodContext) -> tuple[int | None, str, str | None, datetime | None]:
    """(exit code, reason, message, finished at) of an exited pod."""
    code, reason, message, finished = _container_exit(pod, context)
    meta = pod["metadata"]
    stopped = STOP_REQUESTED in (meta.get("annotations") or {})
    if meta.get("deletionTimestamp") and not stopped and reason != UnitReason.NODE_LOST:
        deleted = f"the pod was deleted outside Sapwood at {meta['deletionTimestamp']}"
        message = f"{deleted}; {message}" if message else deleted
    return code, reason, message, finished


def _container_exit(
    pod: Obj, context: PodContext
) -> tuple[int | None, str, str | None, datetime | None]:
    status = pod.get("status", {})
    terminated = (_main_status(pod).get("state") or {}).get("terminated")
    stopped = STOP_REQUESTED in (pod["metadata"].get("annotations") or {})
    if not terminated and not stopped and context.node_lost_since is not None:
        node = pod.get("spec", {}).get("nodeName") or "its node"
        message = (
            f"node {node} stopped reporting at {context.node_lost_since}; the pod was deleted "
            "without the node confirming its end (it may run there until the node is back)"
        )
        return None, UnitReason.NODE_LOST, message, None
    if status.get("reason") == EVICTED:
        code = terminated.get("exitCode") if terminated else None
        return (
            code,
            EVICTED,
            status.get("message"),
            parse_time((terminated or {}).get("finishedAt")),
        )
    if not terminated:
        reason = UnitReason.STOPPED if stopped else UnitReason.KILLED
        return None, reason, status.get("message") or status.get("reason"), None
    code = int(terminated.get("exitCode", 0))
    finished = parse_time(terminated.get("finishedAt"))
    message = terminated.get("message")
    text = (message or "").lower()
    if terminated.get("reason") in ("StartError", "ContainerCannotRun") and any(
        words in text for words in _NOT_FOUND
    ):
        return 127, UnitReason.COMMAND_NOT_FOUND, message, finished
    if stopped:
        return code, UnitReason.STOPPED, message, finished
    if terminated.get("reason") == "OOMKilled":
        return code, UnitReason.OOM_KILLED, message, finished
    if code == 0:
        return code, UnitReason.COMPLETED, message, finished
    return code, UnitReason.ERROR, message, finished


def pod_to_state(pod: Obj, context: PodContext | None = None) -> UnitState | None:
    """The unit state a pod shows; None when the pod is not a Sapwood unit."""
    context = context or PodContext()
    key = key_of(pod)
    if key is None:
        return None
    meta = pod["metadata"]
    annotations = meta.get("annotations") or {}
    main = _main_status(pod).get("state") or {}
    running_since = (main.get("running") or main.get("terminated") or {}).get("startedAt")
    started = (
        parse_time(running_since)
        or parse_time(pod.get("status", {}).get("startTime"))
        or parse_time(meta.get("creationTimestamp"))
        or datetime.now(UTC)
    )
    common: dict[str, Any] = {
        "key": key,
        "pid": None,
        "started_at": started,
        "generation": int(annotations.get(GENERATION, "1")),
        "port": CONTAINER_PORT if annotations.get(WANTS_PORT) == "true" else None,
        "limits_enforced_by": "kubernetes",
        "host": pod.get("status", {}).get("podIP") or "127.0.0.1",
    }
    if is_exited(pod) or context.gone:
        code, reason, message, finished = _exit(pod, context)
        finished = finished or parse_time(meta.get("deletionTimestamp")) or started
        return UnitState(
            phase=UnitPhase.EXITED,
            exit_code=code,
            reason=str(reason),
            message=message,
            finished_at=max(finished, started),
            **common,
        )
    waiting, why = _waiting(pod, context)
    return UnitState(phase=UnitPhase.RUNNING, reason=waiting, message=why, **common)
