"""Pod templates: the container (image, command, env, resources, probes) and the pod spec
around it (priority, placement, GPU tolerations, volumes, grace period)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sapwood.manifests.names import (
    DEFAULT_IMAGE_ANNOTATION,
    MANAGED_BY,
    TEAM_LABEL,
    Manifest,
    metadata,
    object_labels,
    object_name,
    priority_class_name,
    selector_labels,
    token_secret_name,
    volume_claim_name,
)
from sapwood.manifests.options import RenderError, RenderOptions
from sapwood.specs.base import Resources, Volume, check_label_value
from sapwood.specs.objects import AnyObject
from sapwood.specs.probes import Probe
from sapwood.specs.programs import volume_env_name
from sapwood.specs.quantity import format_cpu, format_memory

CONTAINER_NAME = "main"
PORT_NAME = "http"
TOKEN_KEY = "token"
# Jupyter's docker-stacks images run as "jovyan", uid 1000 (gid 100); other images get
# the same non-root uid unless an admin picks another.
WORKLOAD_UID = 1000
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"

EnvVar = dict[str, Any]


def env_value(name: str, value: str) -> EnvVar:
    return {"name": name, "value": value}


def container_env(
    obj: AnyObject,
    team: str,
    *,
    options: RenderOptions,
    port: bool,
    extra: Sequence[EnvVar] = (),
) -> list[EnvVar]:
    """The user's env, then Sapwood's (which wins on a clash).

    The token comes from the workload's Secret by reference: no secret value is rendered.
    """
    spec = obj.spec
    env: dict[str, EnvVar] = {k: env_value(k, v) for k, v in spec.env.items()}
    env.setdefault("PYTHONUNBUFFERED", env_value("PYTHONUNBUFFERED", "1"))
    fixed = [
        env_value("SAPWOOD_KIND", obj.kind),
        env_value("SAPWOOD_TEAM", team),
        env_value("SAPWOOD_NAME", obj.metadata.name),
        env_value("SAPWOOD_URL", options.api_url),
    ]
    if obj.metadata.uid is not None:
        fixed.append(env_value("SAPWOOD_UID", obj.metadata.uid))
    if obj.metadata.generation is not None:
        fixed.append(env_value("SAPWOOD_GENERATION", str(obj.metadata.generation)))
    if port:
        fixed.append(env_value("PORT", str(options.container_port)))
    fixed += [env_value(volume_env_name(v.name), v.mount_path) for v in spec.volumes]
    secret = {"name": token_secret_name(obj.kind, obj.metadata.name), "key": TOKEN_KEY}
    fixed.append({"name": "SAPWOOD_TOKEN", "valueFrom": {"secretKeyRef": secret}})
    for var in [*fixed, *extra]:
        env.pop(var["name"], None)
        env[var["name"]] = var
    return list(env.values())


def workload_security(
    *, uid: int = WORKLOAD_UID, level: str = "restricted"
) -> tuple[Manifest, Manifest]:
    """(pod, container) securityContext for a workload pod.

    "restricted" meets the Pod Security Standard of that name (so namespaces enforcing it
    admit the pod): runs as non-root `uid`/`uid`, seccomp RuntimeDefault, no privilege
    escalation, every capability dropped. "baseline" leaves the image's user (root
    included) and the runtime's default capabilities, for images that need them; an admin
    chooses it (SAPWOOD_KUBE_POD_SECURITY). Both set `fsGroup` with OnRootMismatch, so a
    volume freshly provisioned as root:root (EBS, GCE PD) is writable by the workload's
    group without a recursive chown on every start.
    """
    pod: Manifest = {
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container: Manifest = {"allowPrivilegeEscalation": False}
    if level == "restricted":
        pod = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, **pod}
        container["capabilities"] = {"drop": ["ALL"]}
    return pod, container


def container_resources(resources: Resources, *, options: RenderOptions) -> Manifest:
    """Requests for cpu, memory and GPUs; limits equal requests for memory and GPUs.

    CPU gets no limit: a CPU limit throttles a workload even on an idle node.
    """
    requests: dict[str, str] = {}
    if resources.cpu:
        requests["cpu"] = format_cpu(resources.cpu)
    if resources.memory:
        requests["memory"] = format_memory(resources.memory)
    if resources.gpu:
        requests[options.gpu_resource] = str(resources.gpu)
    limits = {k: v for k, v in requests.items() if k != "cpu"}
    out: Manifest = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _seconds(value: timedelta, *, minimum: int) -> int:
    return max(minimum, math.ceil(value.total_seconds()))


def render_probe(probe: Probe, *, options: RenderOptions, liveness: bool) -> Manifest:
    """A Kubernetes probe; durations round up to whole seconds (period and timeout >= 1).

    Kubernetes requires a liveness probe's successThreshold to be 1, so it is 1 there.
    """
    out: Manifest
    if probe.http is not None:
        port = probe.http.port or options.container_port
        out = {"httpGet": {"path": probe.http.path, "port": port}}
    elif probe.tcp is not None:
        out = {"tcpSocket": {"port": probe.tcp.port or options.container_port}}
    else:
        assert probe.exec is not None  # the spec holds exactly one kind
        out = {"exec": {"command": list(probe.exec.command)}}
    out |= {
        "initialDelaySeconds": _seconds(probe.initial_delay, minimum=0),
        "periodSeconds": _seconds(probe.period, minimum=1),
        "timeoutSeconds": _seconds(probe.timeout, minimum=1),
        "failureThreshold": probe.failure_threshold,
        "successThreshold": 1 if liveness else probe.success_threshold,
    }
    return out


def container(
    obj: AnyObject,
    team: str,
    *,
    image: str,
    command: Sequence[str] | None,
    options: RenderOptions,
    port: bool,
    extra_env: Sequence[EnvVar] = (),
) -> Manifest:
    """The workload's one container; ``port`` opens ``containerPort`` and sets ``PORT``."""
    spec = obj.spec
    out: Manifest = {"name": CONTAINER_NAME, "image": image}
    if command is not None:
        out["command"] = list(command)
    if spec.workdir is not None:
        out["workingDir"] = spec.workdir
    if port:
        out["ports"] = [{"name": PORT_NAME, "containerPort": options.container_port}]
    out["env"] = container_env(obj, team, options=options, port=port, extra=extra_env)
    resources = container_resources(spec.resources, options=options)
    if resources:
        out["resources"] = resources
    if spec.volumes:
        out["volumeMounts"] = [{"name": v.name, "mountPath": v.mount_path} for v in spec.volumes]
    return out


def node_selector(
    resources: Resources, selector: dict[str, str], *, options: RenderOptions
) -> dict[str, str]:
    """The spec's node labels, plus the GPU product label when a GPU model is asked for."""
    out = dict(selector)
    if resources.gpu_model is not None:
        try:
            check_label_value(resources.gpu_model)
        except ValueError as exc:
            raise RenderError("spec.resources.gpuModel", str(exc)) from None
        out[options.gpu_product_label] = resources.gpu_model
    return out


def elastic_deployment(
    obj: AnyObject,
    team: str,
    main: Manifest,
    *,
    namespace: str,
    options: RenderOptions,
    annotations: dict[str, str],
    replicas: int,
    replicas_max: int,
) -> Manifest:
    """A Deployment of ``replicas`` pods around ``main`` that Sapwood scales up to
    ``replicas_max`` (noted in the annotation ``sapwood.dev/replicas-max``)."""
    kind, name = obj.kind, obj.metadata.name
    annotations = {**annotations, "sapwood.dev/replicas-max": str(replicas_max)}
    labels = object_labels(obj, team)
    meta = metadata(object_name(kind, name), labels, namespace=namespace, annotations=annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(kind, team, name)},
            "template": pod_template(obj, team, main, options=options),
        },
    }


def pod_template(
    obj: AnyObject,
    team: str,
    main: Manifest,
    *,
    options: RenderOptions,
    restart_policy: str | None = None,
    claim_volumes: bool = True,
    extra_spec: Manifest | None = None,
) -> Manifest:
    """The pod template around ``main``.

    ``claim_volumes`` mounts team volumes from their PersistentVolumeClaims; a StatefulSet
    passes False because its volumeClaimTemplates provide the volumes by name.
    """
    spec = obj.spec
    pod: Manifest = {}
    if restart_policy is not None:
        pod["restartPolicy"] = restart_policy
    pod |= extra_spec or {}
    pod_security, container_security = workload_security()
    pod["securityContext"] = pod_security
    pod["containers"] = [{**main, "securityContext": container_security}]
    pod["priorityClassName"] = priority_class_name(spec.priority, options=options)
    pod["terminationGracePeriodSeconds"] = _seconds(spec.termination_grace_period, minimum=0)
    # Workloads talk to Sapwood with their token, never to the Kubernetes API.
    pod["automountServiceAccountToken"] = False
    pod["enableServiceLinks"] = False
    selector = node_selector(spec.resources, spec.node_selector, options=options)
    if selector:
        pod["nodeSelector"] = selector
    if spec.resources.gpu:
        pod["tolerations"] = [
            {"key": options.gpu_resource, "operator": "Exists", "effect": "NoSchedule"}
        ]
    if claim_volumes and spec.volumes:
        pod["volumes"] = [
            {"name": v.name, "persistentVolumeClaim": {"claimName": volume_claim_name(v.name)}}
            for v in spec.volumes
        ]
    return {"metadata": {"labels": object_labels(obj, team)}, "spec": pod}


def claim_spec(volume: Volume, *, options: RenderOptions) -> Manifest:
    """A PersistentVolumeClaim spec: ReadWriteOnce, ``volume.size`` (unset or 0: the default)."""
    size = volume.size or options.default_volume_size_bytes
    out: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": format_memory(size)}},
    }
    if options.storage_class is not None:
        out["storageClassName"] = options.storage_class
    return out


def image_of(obj: AnyObject, *, default: str) -> tuple[str, dict[str, str]]:
    """The container image and the annotations that note a default image was used."""
    if obj.spec.image is not None:
        return obj.spec.image, {}
    return default, {DEFAULT_IMAGE_ANNOTATION: f"spec.image is not set; using {default}"}


def team_volume_claims(
    obj: AnyObject, team: str, *, namespace: str, options: RenderOptions
) -> list[Manifest]:
    """A PersistentVolumeClaim per volume of a job or service. Team volumes are shared by
    name (as locally), so they have no owner and outlive the workload."""
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": metadata(
                volume_claim_name(v.name),
                {
                    "app.kubernetes.io/managed-by": MANAGED_BY,
                    TEAM_LABEL: team,
                    "sapwood.dev/volume": v.name,
                },
                namespace=namespace,
            ),
            "spec": claim_spec(v, options=options),
        }
        for v in obj.spec.volumes
    ]
