"""What the API server refuses to change in an existing object (pure).

Ported from the update validators of k8s.io/kubernetes: a Pod's spec is immutable but for
images, a shorter `activeDeadlineSeconds`, added tolerations and a grace period of 1 where
it was negative; a Job's `spec.selector` and `spec.template` and a Deployment's selector are
immutable; a StatefulSet changes only its replicas, template and update fields; a claim's
spec only its storage request; no finalizer may be added once `deletionTimestamp` is set;
and `metadata.resourceVersion` in a patch or apply body is a precondition (409 Conflict).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from sapwood.testing.kube_errors import ApiError
from sapwood.testing.kube_validation import FieldError, forbidden, invalid_value, qualified_kind

Obj = dict[str, Any]

IMMUTABLE = "field is immutable"
POD_UPDATE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)
STATEFULSET_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden"
)
CLAIM_UPDATE = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)
_STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
_MAX_INT32 = 2**31 - 1


def check_precondition(plural: str, body: Obj, live: Obj) -> None:
    """A resourceVersion in the request's metadata must be the live one (409 otherwise)."""
    wanted = (body.get("metadata") or {}).get("resourceVersion")
    if not wanted or str(wanted) == str(live["metadata"].get("resourceVersion")):
        return
    name = live["metadata"]["name"]
    group, _ = qualified_kind(str(live.get("apiVersion", "")), str(live.get("kind", "")))
    resource = f"{plural}.{group}" if group else plural
    message = (
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    details = {"name": name, "group": group, "kind": plural}
    raise ApiError(409, "Conflict", message, details=details)


def _go_strings(values: list[str]) -> str:
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


def _finalizers(new: Obj, old: Obj) -> list[FieldError]:
    if not old["metadata"].get("deletionTimestamp"):
        return []
    before = set(old["metadata"].get("finalizers") or [])
    added = sorted(set(new["metadata"].get("finalizers") or []) - before)
    if not added:
        return []
    detail = (
        "no new finalizers can be added if the object is being deleted, "
        f"found new finalizers {_go_strings(added)}"
    )
    return [forbidden("metadata.finalizers", detail)]


def _deadline(new: Any, old: Any) -> list[FieldError]:
    path = "spec.activeDeadlineSeconds"
    if new is None:
        if old is not None:
            return [invalid_value(path, None, "must not update from a positive integer to nil")]
        return []
    if not 0 < int(new) <= _MAX_INT32:
        return [invalid_value(path, new, f"must be between 1 and {_MAX_INT32}, inclusive")]
    if old is not None and int(new) > int(old):
        return [invalid_value(path, new, "must be less than or equal to previous value")]
    return []


def _diff(old: Obj, new: Obj) -> str:
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(f"-   {key}: {json.dumps(old.get(key), sort_keys=True)}")
            lines.append(f"+   {key}: {json.dumps(new.get(key), sort_keys=True)}")
    return "\n  core.PodSpec{\n" + "\n".join(lines) + "\n  }\n"


def _pod(new: Obj, old: Obj) -> list[FieldError]:
    after, before = new.get("spec") or {}, copy.deepcopy(old.get("spec") or {})
    errors = _deadline(after.get("activeDeadlineSeconds"), before.get("activeDeadlineSeconds"))
    before["activeDeadlineSeconds"] = after.get("activeDeadlineSeconds")
    for field in ("containers", "initContainers"):
        ours, theirs = before.get(field) or [], after.get(field) or []
        if len(ours) == len(theirs):
            for mine, changed in zip(ours, theirs, strict=True):
                if "image" in changed:
                    mine["image"] = changed["image"]
    old_tolerations = before.get("tolerations") or []
    new_tolerations = after.get("tolerations") or []
    if all(t in new_tolerations for t in old_tolerations):
        before["tolerations"] = after.get("tolerations")
    grace = before.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0 and after.get("terminationGracePeriodSeconds") == 1:
        before["terminationGracePeriodSeconds"] = 1
    strip = {k: v for k, v in before.items() if v is not None}
    now = {k: v for k, v in after.items() if v is not None}
    if strip != now:
        errors.append(forbidden("spec", POD_UPDATE + _diff(strip, now)))
    return errors


def _immutable(*paths: str) -> Callable[[Obj, Obj], list[FieldError]]:
    def check(new: Obj, old: Obj) -> list[FieldError]:
        errors = []
        for path in paths:
            field = path.split(".")[-1]
            value, was = new.get("spec", {}).get(field), old.get("spec", {}).get(field)
            if value != was:
                errors.append(invalid_value(path, value, IMMUTABLE))
        return errors

    return check


def _statefulset(new: Obj, old: Obj) -> list[FieldError]:
    def rest(obj: Obj) -> Obj:
        spec = obj.get("spec") or {}
        return {k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE}

    return [] if rest(new) == rest(old) else [forbidden("spec", STATEFULSET_UPDATE)]


def _claim(new: Obj, old: Obj) -> list[FieldError]:
    def rest(obj: Obj) -> Obj:
        spec = copy.deepcopy(obj.get("spec") or {})
        spec.pop("volumeAttributesClassName", None)
        spec.get("resources", {}).pop("requests", None)
        return spec

    return [] if rest(new) == rest(old) else [forbidden("spec", CLAIM_UPDATE)]


_BY_KIND: dict[str, Callable[[Obj, Obj], list[FieldError]]] = {
    "pods": _pod,
    "jobs": _immutable("spec.selector", "spec.template"),
    "deployments": _immutable("spec.selector"),
    "statefulsets": _statefulset,
    "persistentvolumeclaims": _claim,
}


def validate_update(plural: str, new: Obj, old: Obj) -> list[FieldError]:
    """Every change from `old` to `new` the API server refuses (empty: allowed)."""
    check = _BY_KIND.get(plural)
    return _finalizers(new, old) + (check(new, old) if check is not None else [])
