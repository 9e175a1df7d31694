"""The server's identity and its least-privilege access.

Cluster-wide, the server reads nodes, PriorityClasses and node metrics, creates team
namespaces, and binds the workload role in them. Everything about workloads (pods,
secrets, jobs...) is granted per team namespace by the RoleBinding ``render_team_access``
renders, so the server cannot touch other namespaces. No rule uses ``*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sapwood.manifests.names import Manifest, metadata
from sapwood.manifests.options import RenderOptions

_RBAC = "rbac.authorization.k8s.io"
_READ = ["get", "list", "watch"]
_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _rule(group: str, resources: list[str], verbs: list[str], **extra: Any) -> Manifest:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs, **extra}


def workload_rules() -> list[Manifest]:
    """What the server needs inside a team namespace to run and observe workloads."""
    return [
        _rule("batch", ["jobs"], _WRITE),
        _rule("apps", ["deployments", "statefulsets"], _WRITE),
        _rule("apps", ["deployments/scale", "statefulsets/scale"], ["get", "update", "patch"]),
        _rule("", ["services"], _WRITE),
        # A unit is a Pod, written by server-side apply (create + patch).
        _rule("", ["pods"], [*_READ, "create", "patch", "delete"]),
        _rule("", ["pods/log"], ["get"]),
        _rule("", ["persistentvolumeclaims"], [*_READ, "create", "delete"]),
        # Workload tokens: written and rotated, never listed or watched.
        _rule("", ["secrets"], ["get", "create", "update", "patch", "delete"]),
        _rule("", ["events"], _READ),
        _rule("metrics.k8s.io", ["pods"], ["get", "list"]),
    ]


def cluster_rules(options: RenderOptions) -> list[Manifest]:
    """What the server needs across the cluster: capacity, priorities, team namespaces."""
    return [
        _rule("", ["namespaces"], ["get", "list", "watch", "create"]),
        _rule("", ["nodes"], _READ),
        _rule("scheduling.k8s.io", ["priorityclasses"], _READ),
        _rule("metrics.k8s.io", ["nodes"], ["get", "list"]),
        _rule(_RBAC, ["rolebindings"], ["get", "create"]),
        _rule(_RBAC, ["clusterroles"], ["bind"], resourceNames=[options.workload_role]),
    ]


def render_rbac(
    namespace: str, labels: Mapping[str, str], *, options: RenderOptions
) -> list[Manifest]:
    """ServiceAccount, the two ClusterRoles and the binding of the cluster-wide one."""
    account = options.server_service_account
    cluster_role = f"{account}-cluster"
    subject = {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(account, labels, namespace=namespace),
        },
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": metadata(cluster_role, labels),
            "rules": cluster_rules(options),
        },
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": metadata(options.workload_role, labels),
            "rules": workload_rules(),
        },
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata(cluster_role, labels),
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": cluster_role},
            "subjects": [subject],
        },
    ]
