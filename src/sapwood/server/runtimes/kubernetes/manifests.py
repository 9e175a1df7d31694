"""What the runtime creates for a unit (pure): its Pod, its env Secret, its volume claims.

Mapping: **one Pod per unit run**, `restartPolicy: Never`, in the team's namespace. The
controller owns restarts, replicas and scaling, so a Job/Deployment/StatefulSet in between
would restart or replace pods behind its back; a bare Pod keeps the protocol honest (one
start is one process). The names, labels, namespace and team access come from
`sapwood.manifests`, the same as `sapwood render`.

A Pod carries the finalizer `sapwood.dev/unit`: deleting it (stop) terminates its
container with the grace period but keeps the object, so the unit stays observable as
Exited until forget() removes the finalizer. A restarted key gets a new Pod (`-<run>`
suffix); the one before is relabelled `sapwood.dev/run: previous` and kept for logs.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Collection
from typing import Any

from sapwood.manifests.names import (
    KIND_LABEL,
    MANAGED_BY,
    NAME_LABEL,
    TEAM_LABEL,
    priority_class_name,
    short_name,
    volume_claim_name,
    volume_name,
)
from sapwood.manifests.options import (
    DEFAULT_JUPYTER_IMAGE,
    DEFAULT_OPTIONS,
    DEFAULT_SERVER_IMAGE,
    RenderOptions,
)
from sapwood.manifests.pods import (
    CONTAINER_NAME,
    PORT_NAME,
    SAFE_TO_EVICT,
    WORKLOAD_UID,
    node_selector,
    render_probe,
    workload_security,
)
from sapwood.server.runtimes.base import RuntimePermanentError, UnitKey, UnitSpec
from sapwood.specs.base import Resources
from sapwood.specs.programs import volume_env_name

Obj = dict[str, Any]

FINALIZER = "sapwood.dev/unit"
REPLICA_LABEL = "sapwood.dev/replica"
RUN_LABEL = "sapwood.dev/run"  # "current" | "previous"
RUN_NUMBER = "sapwood.dev/run-number"
GENERATION = "sapwood.dev/generation"
WANTS_PORT = "sapwood.dev/wants-port"
STOP_REQUESTED = "sapwood.dev/stop-requested"
CONTAINER_PORT = DEFAULT_OPTIONS.container_port  # 8080; probes without a port use it too
MANAGED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"
GPU_RESOURCE = "nvidia.com/gpu"

_PREFIX = {"Job": "job", "Service": "svc", "Workspace": "ws", "Feed": "feed"}
# The cluster autoscaler never drains a node running a pod no controller owns unless the
# pod says it may go. Service replicas and feed workers may: Sapwood starts them again
# elsewhere. A Workspace holds a user's live session and a Job's pod its run's progress
# (a Job's pod is owned by its batch/v1 Job, which the autoscaler would otherwise evict).
_EVICTABLE = frozenset({"Service", "Feed"})
# Environment variables holding credentials go into the unit's Secret, never the pod spec.
_SECRET_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS|API_KEY)$")


def namespace_of(team: str, *, prefix: str) -> str:
    return short_name(f"{prefix}{team}")


def unit_base(key: UnitKey) -> str:
    """The stem of every object of a unit: "job-train-0" (DNS-safe, 55 characters at most)."""
    prefix = _PREFIX.get(key.kind, key.kind.lower())
    return short_name(f"{prefix}-{key.name}-{key.replica}", 55)


def pod_name(key: UnitKey, run: int) -> str:
    return f"{unit_base(key)}-{run}"


def secret_name(key: UnitKey) -> str:
    return f"{unit_base(key)}-env"


def unit_selector(key: UnitKey) -> str:
    """A label selector for every pod (current and previous) of `key`."""
    return ",".join(f"{k}={v}" for k, v in unit_labels(key).items())


def unit_labels(key: UnitKey) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        TEAM_LABEL: key.team,
        KIND_LABEL: key.kind,
        NAME_LABEL: key.name,
        REPLICA_LABEL: str(key.replica),
    }


def run_number(pod: Obj) -> int:
    """The run a unit pod belongs to (its run-number label; 0 when absent or garbled)."""
    labels = pod["metadata"].get("labels") or {}
    try:
        return int(labels.get(RUN_NUMBER, "0"))
    except ValueError:
        return 0


def key_of(pod: Obj) -> UnitKey | None:
    """The unit a pod belongs to, from its labels; None for pods that are not units."""
    labels = pod.get("metadata", {}).get("labels") or {}
    try:
        return UnitKey(
            labels[KIND_LABEL], labels[TEAM_LABEL], labels[NAME_LABEL], int(labels[REPLICA_LABEL])
        )
    except (KeyError, ValueError):
        return None


def is_secret_env(name: str) -> bool:
    return bool(_SECRET_ENV.search(name))


def secret_manifest(unit: UnitSpec, *, namespace: str) -> Obj | None:
    """The unit's credentials as a Secret, or None when its env holds none.

    The values go in `data` (base64), not `stringData`: the API server folds `stringData`
    into `data` on write, so under server-side apply nobody owns the `data` keys and a key
    dropped from the env would stay in the Secret for good.
    """
    data = {
        k: base64.b64encode(v.encode()).decode() for k, v in unit.env.items() if is_secret_env(k)
    }
    if not data:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(unit.key),
            "namespace": namespace,
            "labels": unit_labels(unit.key),
        },
        "type": "Opaque",
        "data": data,
    }


def claim_manifest(volume: str, *, namespace: str, team: str, size_bytes: int) -> Obj:
    """A team volume's claim; created once and never updated (claims are mostly immutable)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": volume_claim_name(volume),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, TEAM_LABEL: team},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": str(size_bytes)}},
        },
    }


def _env(unit: UnitSpec) -> list[Obj]:
    env: list[Obj] = []
    for name in sorted(unit.env):
        if is_secret_env(name):
            ref = {"name": secret_name(unit.key), "key": name}
            env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
        else:
            env.append({"name": name, "value": unit.env[name]})
    assigned = {"PYTHONUNBUFFERED": "1", "SAPWOOD_REPLICA": str(unit.key.replica)}
    if unit.wants_port:
        assigned["PORT"] = str(CONTAINER_PORT)
    for volume in unit.volumes:
        assigned[volume_env_name(volume.name)] = volume.path
    env += [{"name": k, "value": v} for k, v in assigned.items() if k not in unit.env]
    return env


def _resources(unit: UnitSpec) -> Obj:
    # CPU gets no limit on purpose (it throttles even on an idle node), as in the renderer.
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if unit.cpu_millis:
        requests["cpu"] = f"{unit.cpu_millis}m"
    if unit.memory_bytes:
        requests["memory"] = limits["memory"] = str(unit.memory_bytes)
    if unit.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(unit.gpus)
    out: Obj = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _node_selector(unit: UnitSpec, options: RenderOptions) -> dict[str, str]:
    # The renderer's helper, so a GPU model becomes the same node label as in `sapwood render`.
    try:
        resources = Resources(cpu=0, memory=0, gpu=unit.gpus, gpu_model=unit.gpu_model)
        return node_selector(resources, dict(unit.node_selector), options=options)
    except ValueError:  # RenderError, or too long for the spec
        message = f"spec.resources.gpuModel: {unit.gpu_model!r} is not a valid node label value"
        raise RuntimePermanentError(message, reason="InvalidSpec") from None


def image_and_command(
    unit: UnitSpec,
    *,
    image: str,
    server_image: str = DEFAULT_SERVER_IMAGE,
    jupyter_image: str = DEFAULT_JUPYTER_IMAGE,
) -> tuple[str, list[str]]:
    """The container's image and command.

    The spec's image wins. A unit running Sapwood's own program (`unit.program`) runs its
    image form (no host interpreter path, every interface) in the server image (model
    server, feed worker) or the Jupyter image; any other unit runs its command in `image`.
    """
    if unit.program is None:
        return unit.image or image, list(unit.command)
    default = jupyter_image if unit.program.image == "jupyter" else server_image
    return unit.image or default, list(unit.program.command)


def pod_priority_class(
    unit: UnitSpec, existing: Collection[str] | None, *, options: RenderOptions
) -> str | None:
    """`sapwood-<priority>` for the pod, unless the cluster is known to lack it.

    The API server refuses a pod naming a missing PriorityClass, and Sapwood orders and
    preempts work by its own rules anyway, so a cluster without `sapwood install`'s classes
    (a developer's kind cluster) still runs the pod, only without the scheduling hint.
    """
    if not unit.priority_class:
        return None
    name = priority_class_name(unit.priority_class, options=options)
    if existing is not None and name not in existing:
        return None
    return name


def pod_manifest(
    unit: UnitSpec,
    *,
    namespace: str,
    run: int,
    image: str,
    server_image: str = DEFAULT_SERVER_IMAGE,
    jupyter_image: str = DEFAULT_JUPYTER_IMAGE,
    priority_classes: Collection[str] | None = None,
    options: RenderOptions = DEFAULT_OPTIONS,
    uid: int = WORKLOAD_UID,
    pod_security: str = "restricted",
) -> Obj:
    """The Pod for run `run` of `unit`; applying it twice changes nothing.

    The pod meets Pod Security `pod_security` ("restricted": non-root `uid`, see
    `workload_security`), and says whether the cluster autoscaler may evict it.

    `image` is for units whose spec names none (`image_and_command` picks the image);
    `priority_classes` are those the cluster has (None: unknown), see `pod_priority_class`.
    Placement and probes follow `sapwood render`: `nodeSelector` (with the GPU product label
    for a GPU model), `priorityClassName` named with `options`, the unit's probes rendered as there.
    Raises RuntimePermanentError ("InvalidSpec") for a GPU model that is no label value.
    """
    image, command = image_and_command(
        unit, image=image, server_image=server_image, jupyter_image=jupyter_image
    )
    pod_context, container_context = workload_security(uid=uid, level=pod_security)
    container: Obj = {
        "name": CONTAINER_NAME,
        "image": image,
        "command": command,
        "env": _env(unit),
        "resources": _resources(unit),
        "securityContext": container_context,
    }
    if unit.workdir:
        container["workingDir"] = unit.workdir
    if unit.wants_port:
        container["ports"] = [{"name": PORT_NAME, "containerPort": CONTAINER_PORT}]
    if unit.volumes:
        container["volumeMounts"] = [
            {"name": volume_name(v.name), "mountPath": v.path} for v in unit.volumes
        ]
    # Rendered as `sapwood render` does; a probe without a port checks CONTAINER_PORT, the
    # default options' container port.
    if unit.readiness is not None:
        container["readinessProbe"] = render_probe(
            unit.readiness, options=DEFAULT_OPTIONS, liveness=False
        )
    if unit.liveness is not None:
        container["livenessProbe"] = render_probe(
            unit.liveness, options=DEFAULT_OPTIONS, liveness=True
        )
    spec: Obj = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": max(0, math.ceil(unit.grace_period_s)),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_context,
        "containers": [container],
    }
    if unit.volumes:
        spec["volumes"] = [
            {
                "name": volume_name(v.name),
                "persistentVolumeClaim": {"claimName": volume_claim_name(v.name)},
            }
            for v in unit.volumes
        ]
    priority = pod_priority_class(unit, priority_classes, options=options)
    if priority is not None:
        spec["priorityClassName"] = priority
    selector = _node_selector(unit, options)
    if selector:
        spec["nodeSelector"] = selector
    if unit.gpus:
        spec["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    labels = {
        **unit_labels(unit.key),
        "app.kubernetes.io/name": unit_base(unit.key),
        RUN_LABEL: "current",
        RUN_NUMBER: str(run),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(unit.key, run),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                GENERATION: str(unit.generation),
                WANTS_PORT: "true" if unit.wants_port else "false",
                SAFE_TO_EVICT: "true" if unit.key.kind in _EVICTABLE else "false",
            },
            "finalizers": [FINALIZER],
        },
        "spec": spec,
    }
