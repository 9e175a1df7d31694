"""What a team needs before its workloads: its namespace, and the server's access to it;
and the cluster's PriorityClasses, one per configured priority."""

from __future__ import annotations

from collections.abc import Mapping

from sapwood.manifests.names import (
    MANAGED_BY,
    TEAM_LABEL,
    Manifest,
    metadata,
    namespace_for,
    priority_class_name,
)
from sapwood.manifests.network_policy import render_team_network_policy
from sapwood.manifests.options import DEFAULT_OPTIONS, DEFAULT_PRIORITIES, RenderOptions

_MANAGED = {"app.kubernetes.io/managed-by": MANAGED_BY}


def render_namespace(
    team: str, *, namespace: str | None = None, options: RenderOptions = DEFAULT_OPTIONS
) -> Manifest:
    """The team's Namespace (``sapwood-<team>`` unless ``namespace`` is given)."""
    name = namespace or namespace_for(team, options=options)
    labels = {**_MANAGED, "app.kubernetes.io/name": name, TEAM_LABEL: team}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, labels)}


def render_team_access(
    team: str, *, namespace: str | None = None, options: RenderOptions = DEFAULT_OPTIONS
) -> Manifest:
    """A RoleBinding that grants the server the workload role in the team's namespace only.

    The server holds no cluster-wide right to pods, secrets or workloads: it creates this
    binding with each team namespace (allowed by ``bind`` on that one ClusterRole).
    """
    name = namespace or namespace_for(team, options=options)
    labels = {**_MANAGED, "app.kubernetes.io/name": "sapwood", TEAM_LABEL: team}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata("sapwood", labels, namespace=name),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": options.workload_role,
        },
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": options.server_service_account,
                "namespace": options.server_namespace,
            }
        ],
    }


def render_team(
    team: str, *, namespace: str | None = None, options: RenderOptions = DEFAULT_OPTIONS
) -> list[Manifest]:
    """The Namespace, the server's RoleBinding in it and its NetworkPolicy, in the order to
    create them (the binding grants the server the right to create the policy)."""
    return [
        render_namespace(team, namespace=namespace, options=options),
        render_team_access(team, namespace=namespace, options=options),
        render_team_network_policy(team, namespace=namespace, options=options),
    ]


def render_priority_classes(
    priorities: Mapping[str, int] = DEFAULT_PRIORITIES,
    *,
    options: RenderOptions = DEFAULT_OPTIONS,
) -> list[Manifest]:
    """A PriorityClass ``sapwood-<name>`` per priority, highest first, none preempting.

    Sapwood preempts by its own rules at admission; letting the kube-scheduler preempt too
    would evict workloads behind its back, so ``preemptionPolicy`` is ``Never``.
    """
    ordered = sorted(priorities.items(), key=lambda item: (-item[1], item[0]))
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": metadata(
                priority_class_name(name, options=options),
                {**_MANAGED, "app.kubernetes.io/name": "sapwood", "sapwood.dev/priority": name},
            ),
            "value": value,
            "globalDefault": False,
            "preemptionPolicy": "Never",
            "description": f"Sapwood priority {name!r}",
        }
        for name, value in ordered
    ]
