"""How the Kubernetes runtime reaches its cluster and what it puts in pods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sapwood.manifests.options import DEFAULT_JUPYTER_IMAGE, DEFAULT_SERVER_IMAGE


@dataclass(frozen=True)
class KubernetesRuntimeSettings:
    """`kubeconfig` None: the in-cluster service account (the server runs in a pod).

    `image` is the image of units whose spec names none; `server_image` runs Sapwood's own
    programs (model servers, feed workers) and `jupyter_image` JupyterLab workspaces when
    the spec names no image; `api_url` is how workloads reach the Sapwood API from inside
    the cluster.
    """

    kubeconfig: Path | None = None
    context: str | None = None
    namespace_prefix: str = "sapwood-"
    image: str = "python:3.11-slim"
    server_image: str = DEFAULT_SERVER_IMAGE
    jupyter_image: str = DEFAULT_JUPYTER_IMAGE
    api_url: str = "http://sapwood.sapwood.svc.cluster.local"
    request_timeout_s: float = 30.0
    watch_timeout_s: int = 300  # a watch is re-opened (from its bookmark) this often
    stop_poll_s: float = 0.2
    pod_wait_s: float = 15.0  # how long start() waits for the Job controller to make a Pod
    workload_role: str = "sapwood-workloads"
    server_namespace: str = "sapwood"
    server_service_account: str = "sapwood"
