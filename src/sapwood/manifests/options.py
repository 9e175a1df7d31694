"""What rendering can be configured with, the default priorities, and the render error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from sapwood.images import DEFAULT_IMAGE as DEFAULT_IMAGE
from sapwood.images import DEFAULT_JUPYTER_IMAGE as DEFAULT_JUPYTER_IMAGE
from sapwood.images import DEFAULT_SERVER_IMAGE as DEFAULT_SERVER_IMAGE

DEFAULT_CLUSTER_DOMAIN = "cluster.local"

# The same five classes as the server's scheduling settings; kept here because this
# package stands on specs only and must not import the server.
DEFAULT_PRIORITIES: Mapping[str, int] = MappingProxyType(
    {"critical": 1000, "high": 100, "normal": 0, "low": -100, "best-effort": -1000}
)


@dataclass(frozen=True)
class RenderOptions:
    """Cluster-wide choices for rendering workloads; the defaults suit a stock install.

    ``api_url`` is where workloads reach the Sapwood API: by default the Service that
    ``sapwood install kubernetes`` renders in the ``sapwood`` namespace. ``server_namespace``
    and ``server_service_account`` name the server's identity, which each team namespace
    grants the workload role to.
    """

    namespace_prefix: str = "sapwood-"
    priority_class_prefix: str = "sapwood-"
    default_image: str = DEFAULT_IMAGE
    server_image: str = DEFAULT_SERVER_IMAGE  # model servers and feed workers need Sapwood
    jupyter_image: str = DEFAULT_JUPYTER_IMAGE
    api_url: str = f"http://sapwood.sapwood.svc.{DEFAULT_CLUSTER_DOMAIN}"
    server_namespace: str = "sapwood"
    server_service_account: str = "sapwood"
    workload_role: str = "sapwood-workloads"
    job_ttl: timedelta = timedelta(days=1)
    default_volume_size_bytes: int = 10 * 1024**3
    storage_class: str | None = None
    gpu_resource: str = "nvidia.com/gpu"
    gpu_product_label: str = "nvidia.com/gpu.product"
    container_port: int = 8080


DEFAULT_OPTIONS = RenderOptions()


class RenderError(ValueError):
    """A valid spec that cannot become Kubernetes objects; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message
