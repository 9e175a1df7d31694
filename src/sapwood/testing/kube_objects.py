"""The kinds the Kubernetes API double serves, and pure helpers on its objects."""

from __future__ import annotations

import base64
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
    "configmaps": ("v1", "ConfigMap", True),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True),
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


def removals(before: Any, after: Any) -> Obj:
    """A merge patch (nulls) deleting the map keys `before` set that `after` no longer
    does: server-side apply drops the fields a manager stops applying. Lists are replaced
    whole by the merge, so only maps are walked."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {}
    patch: Obj = {}
    for key, value in before.items():
        if key not in after:
            patch[key] = None
        elif sub := removals(value, after[key]):
            patch[key] = sub
    return patch


def fold_string_data(secret: Obj) -> Obj:
    """A Secret as the API server stores it: `stringData` (write-only) merged into `data`
    as base64, winning over `data` on the same key."""
    strings = secret.pop("stringData", None) or {}
    if strings:
        data = dict(secret.get("data") or {})
        data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in strings.items()})
        secret["data"] = data
    return secret
