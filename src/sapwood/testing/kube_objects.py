"""The kinds the Kubernetes API double serves, and pure helpers on its objects."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

# plural -> (apiVersion, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "namespaces": ("v1", "Namespace", False),
    "nodes": ("v1", "Node", False),
    "pods": ("v1", "Pod", True),
    "services": ("v1", "Service", True),
    "persistentvolumeclaims": ("v1", "PersistentVolumeClaim", True),
    "secrets": ("v1", "Secret", True),
    "jobs": ("batch/v1", "Job", True),
    "deployments": ("apps/v1", "Deployment", True),
    "statefulsets": ("apps/v1", "StatefulSet", True),
    "serviceaccounts": ("v1", "ServiceAccount", True),
    "rolebindings": ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
    "roles": ("rbac.authorization.k8s.io/v1", "Role", True),
    "clusterroles": ("rbac.authorization.k8s.io/v1", "ClusterRole", False),
    "clusterrolebindings": ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False),
    "validatingadmissionpolicies": (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        False,
    ),
    "validatingadmissionpolicybindings": (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
    "priorityclasses": ("scheduling.k8s.io/v1", "PriorityClass", False),
    "events": ("v1", "Event", True),
    "resourcequotas": ("v1", "ResourceQuota", True),
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(base: Any, patch: Any, *, delete_nulls: bool) -> Any:
    """RFC 7386 merge: dicts merge key by key, anything else replaces."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base)
    for k, v in patch.items():
        if v is None and delete_nulls:
            out.pop(k, None)
        else:
            out[k] = merge(base.get(k), v, delete_nulls=delete_nulls)
    return out


def awaits_kubelet(pod: Obj) -> bool:
    """A pod being deleted gracefully that a node runs: the API server keeps it until the
    node's kubelet confirms its containers ended (a terminal phase), or a force delete."""
    meta, status = pod["metadata"], pod.get("status") or {}
    return (
        bool(meta.get("deletionTimestamp"))
        and bool((pod.get("spec") or {}).get("nodeName"))
        and status.get("phase") not in ("Succeeded", "Failed")
        and int(meta.get("deletionGracePeriodSeconds") or 0) > 0
    )


def held(plural: str, obj: Obj) -> bool:
    """Whether an object being deleted must stay: finalizers hold it, a namespace's
    spec.finalizers hold it, and a pod waits for its kubelet."""
    if obj["metadata"].get("finalizers"):
        return True
    if plural == "namespaces":
        return bool((obj.get("spec") or {}).get("finalizers"))
    return plural == "pods" and awaits_kubelet(obj)
