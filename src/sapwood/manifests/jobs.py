"""A Sapwood Job as a suspended ``batch/v1`` Job (Indexed for a gang), plus what it needs."""

from __future__ import annotations

import math
from typing import Any

from sapwood.manifests.names import (
    Manifest,
    metadata,
    object_labels,
    object_name,
    owner_reference,
    selector_labels,
)
from sapwood.manifests.options import RenderOptions
from sapwood.manifests.pods import (
    EnvVar,
    container,
    env_value,
    image_of,
    pod_template,
    team_volume_claims,
)
from sapwood.specs.objects import Job
from sapwood.specs.workloads import RestartPolicy

MASTER_PORT = 29500  # torch.distributed's default: each pod has its own network
# Kubernetes writes the completion index of an Indexed job's pod into this annotation.
_INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def render_job(
    job: Job,
    team: str,
    *,
    namespace: str,
    options: RenderOptions,
    owner_uid: str | None = None,
) -> list[Manifest]:
    """The Job (created suspended: Sapwood unsuspends it on admission), a PVC per volume,
    and for a gang a headless Service that gives each worker a DNS name.

    A gang (``replicas > 1``) is Indexed with ``parallelism = replicas`` and
    ``completions = spec.completions or replicas``; workers read their index from
    ``SAPWOOD_REPLICA`` and get torchrun's variables (``WORLD_SIZE``, ``RANK``,
    ``MASTER_ADDR`` = rank 0's pod, ``MASTER_PORT`` 29500) and ``SAPWOOD_PEERS``.
    ``backoffLimit`` is ``retries``, or 0 with ``restart: Never``.
    ``owner_uid`` (the Job's uid) makes the headless Service go with the Job.
    """
    spec = job.spec
    name = object_name("Job", job.metadata.name)
    labels = object_labels(job, team)
    gang = spec.replicas > 1
    image, annotations = image_of(job, default=options.default_image)
    index = {"valueFrom": {"fieldRef": {"fieldPath": _INDEX_ANNOTATION}}}
    replica = {"name": "SAPWOOD_REPLICA", **index} if gang else env_value("SAPWOOD_REPLICA", "0")
    main = container(
        job,
        team,
        image=image,
        command=spec.command,
        options=options,
        port=False,
        extra_env=[replica, *(_torch_env(job, name, index) if gang else [])],
    )
    template = pod_template(
        job,
        team,
        main,
        options=options,
        restart_policy=spec.restart.value,
        extra_spec={"subdomain": name} if gang else None,
    )
    completions = spec.completions or spec.replicas
    job_spec: Manifest = {
        "suspend": True,
        "completions": completions,
        "parallelism": min(spec.replicas, completions),
        "backoffLimit": 0 if spec.restart is RestartPolicy.NEVER else spec.retries,
        "ttlSecondsAfterFinished": math.ceil(options.job_ttl.total_seconds()),
    }
    if gang:
        job_spec["completionMode"] = "Indexed"
    if spec.active_deadline is not None:
        job_spec["activeDeadlineSeconds"] = max(1, math.ceil(spec.active_deadline.total_seconds()))
    job_spec["template"] = template
    manifest: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(name, labels, namespace=namespace, annotations=annotations),
        "spec": job_spec,
    }
    out = [manifest]
    if gang:
        out.append(_workers_service(job, team, manifest, namespace=namespace, uid=owner_uid))
    out += team_volume_claims(job, team, namespace=namespace, options=options)
    return out


def _torch_env(job: Job, name: str, index: dict[str, Any]) -> list[EnvVar]:
    """torchrun's variables for a gang's workers; the user's env may set any of them.

    Each pod of an Indexed Job is named ``<name>-<index>`` and, with the headless Service
    as its subdomain, reached at ``<name>-<index>.<name>``: rank 0 is ``MASTER_ADDR``.
    """
    count = job.spec.replicas
    hosts = [f"{name}-{rank}.{name}" for rank in range(count)]
    torch = [
        env_value("WORLD_SIZE", str(count)),
        {"name": "RANK", **index},
        env_value("LOCAL_RANK", "0"),
        env_value("LOCAL_WORLD_SIZE", "1"),
        env_value("MASTER_ADDR", hosts[0]),
        env_value("MASTER_PORT", str(MASTER_PORT)),
    ]
    peers = env_value("SAPWOOD_PEERS", ",".join(f"{h}:{MASTER_PORT}" for h in hosts))
    return [var for var in torch if var["name"] not in job.spec.env] + [peers]


def _workers_service(
    job: Job, team: str, owner: Manifest, *, namespace: str, uid: str | None
) -> Manifest:
    # Pods of an Indexed job are named <job>-<index>; with this headless Service as their
    # subdomain, workers reach each other at <job>-<index>.<job>.
    name = owner["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            name,
            object_labels(job, team),
            namespace=namespace,
            owner=owner_reference(owner, uid),
        ),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector_labels("Job", team, job.metadata.name),
        },
    }
