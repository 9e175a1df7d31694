"""The server's identity and its least-privilege access.

Cluster-wide, the server lists nodes and PriorityClasses, reads and creates team namespaces,
and creates RoleBindings of the workload role. Everything about workloads (pods, their logs,
secrets, jobs...) is granted per team namespace by the RoleBinding ``render_team_access``
renders, so the server holds no right in other namespaces. No rule uses ``*``, and each verb
is one the runtime uses (tests/integration/runtimes/kubernetes/test_rbac_coverage.py fails on
a grant no runtime operation exercises).

``rolebindings create`` plus ``bind`` on the workload role would let the server bind that
role to itself anywhere (kube-system included); two ValidatingAdmissionPolicies
(admissionregistration.k8s.io/v1, Kubernetes 1.30+) close that: for requests by the server's
ServiceAccount, a RoleBinding may only be made in a Sapwood team namespace (named with the
prefix and labelled ``app.kubernetes.io/managed-by=sapwood`` and ``sapwood.dev/team``), of
the workload ClusterRole, to the server's ServiceAccount alone; and a namespace it creates
must carry the prefix and those labels. The server cannot update or patch namespaces, so it
cannot label an existing namespace into a team namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sapwood.manifests.names import MANAGED_BY, TEAM_LABEL, Manifest, metadata
from sapwood.manifests.options import RenderOptions

_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io/v1"
_MANAGED = "app.kubernetes.io/managed-by"


def _rule(group: str, resources: list[str], verbs: list[str], **extra: Any) -> Manifest:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs, **extra}


def workload_rules() -> list[Manifest]:
    """What the server needs inside a team namespace to run and observe workloads."""
    return [
        # A Sapwood Job's run is a batch/v1 Job, written by server-side apply (create + patch).
        _rule("batch", ["jobs"], ["list", "create", "patch", "delete"]),
        # Other units are Pods (server-side apply); informers list and watch them; stop reads
        # one; a finalizer or annotation is a merge patch.
        _rule("", ["pods"], ["get", "list", "watch", "create", "patch", "delete"]),
        _rule("", ["pods/log"], ["get"]),
        # Kept logs (log_archive.py): a pod's log is copied into a ConfigMap (applied) before
        # the pod goes, read by any replica, pruned by label.
        _rule("", ["configmaps"], ["get", "list", "create", "patch", "delete"]),
        # The team's isolation policy, made with its namespace; never changed or removed.
        _rule("networking.k8s.io", ["networkpolicies"], ["create"]),
        # Team volumes: created when first used, never deleted by the server.
        _rule("", ["persistentvolumeclaims"], ["create"]),
        # Workload tokens: applied (create + patch) and deleted, never read back.
        _rule("", ["secrets"], ["create", "patch", "delete"]),
        # Why a Job has no pod yet (FailedCreate).
        _rule("", ["events"], ["list"]),
        _rule("metrics.k8s.io", ["pods"], ["list"]),
    ]


def cluster_rules(options: RenderOptions) -> list[Manifest]:
    """What the server needs across the cluster: capacity, priorities, team namespaces."""
    return [
        _rule("", ["namespaces"], ["get", "list", "create"]),
        _rule("", ["nodes"], ["list"]),
        _rule("scheduling.k8s.io", ["priorityclasses"], ["list"]),
        _rule(_RBAC, ["rolebindings"], ["create"]),
        _rule(_RBAC, ["clusterroles"], ["bind"], resourceNames=[options.workload_role]),
    ]


def capacity_rules() -> list[Manifest]:
    """Not granted by the install: listing every pod of the cluster, so capacity can
    subtract other tenants' and DaemonSets' requests. It reads every pod's spec (env values
    written inline included) in every namespace, kube-system too, so it is an admin's
    choice: `sapwood install kubernetes --capacity-reads-all-pods` renders it
    (`render_capacity_access`)."""
    return [_rule("", ["pods"], ["list"])]


def render_capacity_access(
    namespace: str, labels: Mapping[str, str], *, options: RenderOptions
) -> list[Manifest]:
    """A ClusterRole of `capacity_rules` and its binding to the server (opt-in)."""
    name = f"{options.server_service_account}-capacity"
    subject = {"kind": "ServiceAccount", "name": options.server_service_account}
    return [
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": metadata(name, labels),
            "rules": capacity_rules(),
        },
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata(name, labels),
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": name},
            "subjects": [{**subject, "namespace": namespace}],
        },
    ]


def server_user(namespace: str, options: RenderOptions) -> str:
    """The user name the server's ServiceAccount token authenticates as."""
    return f"system:serviceaccount:{namespace}:{options.server_service_account}"


def _team_labels_hold(obj: str) -> str:
    """CEL: `obj` (a Namespace) carries the labels of a Sapwood team namespace."""
    labels = f"{obj}.metadata.labels"
    return (
        f"has({labels}) && '{_MANAGED}' in {labels} && {labels}['{_MANAGED}'] == '{MANAGED_BY}'"
        f" && '{TEAM_LABEL}' in {labels}"
    )


def _policy(
    name: str,
    labels: Mapping[str, str],
    *,
    user: str,
    group: str,
    resource: str,
    validations: list[Manifest],
) -> list[Manifest]:
    """A ValidatingAdmissionPolicy for the server's creates and updates of `resource`, and
    its binding (Deny)."""
    rule = {
        "apiGroups": [group],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": [resource],
    }
    condition = {"name": "sapwood-server", "expression": f"request.userInfo.username == '{user}'"}
    return [
        {
            "apiVersion": _ADMISSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": metadata(name, labels),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [rule]},
                "matchConditions": [condition],
                "validations": [{**v, "reason": "Forbidden"} for v in validations],
            },
        },
        {
            "apiVersion": _ADMISSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": metadata(name, labels),
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        },
    ]


def render_admission_policies(
    namespace: str, labels: Mapping[str, str], *, options: RenderOptions
) -> list[Manifest]:
    """The two policies (and bindings) that keep the server's RBAC writes to team namespaces."""
    account, prefix = options.server_service_account, options.namespace_prefix
    user = server_user(namespace, options)
    subject = (
        f"s.kind == 'ServiceAccount' && s.name == '{account}'"
        f" && has(s.namespace) && s.namespace == '{namespace}'"
    )
    bindings = [
        {
            "expression": (
                # rolebindings are namespaced: namespaceObject is always set
                f"namespaceObject.metadata.name.startsWith('{prefix}')"
                f" && {_team_labels_hold('namespaceObject')}"
            ),
            "message": (
                f"the Sapwood server may only bind roles in Sapwood team namespaces (named "
                f"{prefix}*, labelled {_MANAGED}={MANAGED_BY} and {TEAM_LABEL})"
            ),
        },
        {
            "expression": (
                f"object.roleRef.kind == 'ClusterRole'"
                f" && object.roleRef.name == '{options.workload_role}'"
            ),
            "message": f"the Sapwood server may only bind the ClusterRole {options.workload_role}",
        },
        {
            "expression": f"has(object.subjects) && object.subjects.all(s, {subject})",
            "message": (
                f"the Sapwood server may only bind roles to its own ServiceAccount "
                f"{namespace}/{account}"
            ),
        },
    ]
    namespaces = [
        {
            "expression": f"object.metadata.name.startsWith('{prefix}')",
            "message": f"the Sapwood server may only create namespaces named {prefix}*",
        },
        {
            "expression": _team_labels_hold("object"),
            "message": (
                f"a namespace the Sapwood server creates must be labelled "
                f"{_MANAGED}={MANAGED_BY} and {TEAM_LABEL}"
            ),
        },
    ]
    return [
        *_policy(
            f"{account}-team-bindings",
            labels,
            user=user,
            group=_RBAC,
            resource="rolebindings",
            validations=bindings,
        ),
        *_policy(
            f"{account}-team-namespaces",
            labels,
            user=user,
            group="",
            resource="namespaces",
            validations=namespaces,
        ),
    ]


def render_rbac(
    namespace: str, labels: Mapping[str, str], *, options: RenderOptions
) -> list[Manifest]:
    """ServiceAccount, the two ClusterRoles, the binding of the cluster-wide one, and the
    admission policies that bound what the server may bind."""
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
        *render_admission_policies(namespace, labels, options=options),
    ]
