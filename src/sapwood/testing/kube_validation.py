"""Field validation of the Kubernetes API double: what the API server's validators refuse.

`validate_object` ports the rules of k8s.io/apimachinery's api/validation (object metadata)
and the core, batch and apps validators that Sapwood's objects meet: names by kind, label
keys and values, annotations, finalizers, container, volume, port and env names, pod
hostnames, Secret and ConfigMap keys. `invalid` turns the problems into the real 422
answer: `Pod "x" is invalid: metadata.name: Invalid value: "X": a lowercase RFC 1123
subdomain must consist of ...`, with the same `details.causes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sapwood.testing.kube_errors import ApiError
from sapwood.testing.kube_names import (
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_label_value,
    is_path_segment_name,
    is_qualified_name,
)

Obj = dict[str, Any]

TOTAL_ANNOTATION_SIZE = 256 * 1024
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")

_TITLE = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueNotFound": "Not found",
}
_NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong")


@dataclass(frozen=True)
class FieldError:
    """One field problem, as field.Error: a type (a cause's reason), the path, the value."""

    type: str
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        """The message without the field, as ErrorBody() words it."""
        text = _TITLE[self.type]
        if self.type not in _NO_VALUE:
            text += f": {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _go_value(value: Any) -> str:
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, "", detail)


def invalid_value(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, "", detail)


def qualified_kind(api_version: str, kind: str) -> tuple[str, str]:
    """(group, "Kind" or "Kind.group") as the API server names a kind in its messages."""
    group = api_version.rpartition("/")[0]
    return group, f"{kind}.{group}" if group else kind


def invalid(obj: Obj, errors: Iterable[FieldError]) -> ApiError:
    """The 422 Invalid answer for `errors` in `obj` (deduplicated, in order), with causes."""
    unique = list({str(e): e for e in errors}.values())
    kind = str(obj.get("kind", ""))
    group, qualified = qualified_kind(str(obj.get("apiVersion", "")), kind)
    name = str((obj.get("metadata") or {}).get("name", ""))
    texts = [str(e) for e in unique]
    aggregate = texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"
    details = {
        "name": name,
        "group": group,
        "kind": kind,
        "causes": [{"reason": e.type, "message": e.body(), "field": e.field} for e in unique],
    }
    return ApiError(
        422, "Invalid", f'{qualified} "{name}" is invalid: {aggregate}', details=details
    )


# --- metadata ----------------------------------------------------------------------------

NameRule = Callable[[str], list[str]]


def _no_rule(_: str) -> list[str]:
    return []


_NAME_RULES: dict[str, NameRule] = {
    "namespaces": is_dns1123_label,
    "services": is_dns1035_label,
    "rolebindings": is_path_segment_name,
    "roles": is_path_segment_name,
    "clusterroles": is_path_segment_name,
    "clusterrolebindings": is_path_segment_name,
    "events": _no_rule,
}


def _check(path: str, value: str, rule: NameRule) -> list[FieldError]:
    return [invalid_value(path, value, message) for message in rule(value)]


def validate_metadata(plural: str, meta: Obj) -> list[FieldError]:
    """ObjectMeta on create and update: name by kind, labels, annotations, finalizers."""
    errors: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        rule = _NAME_RULES.get(plural, is_dns1123_subdomain)
        errors += _check("metadata.name", name, rule)
    for key, value in (meta.get("labels") or {}).items():
        errors += _check("metadata.labels", key, is_qualified_name)
        errors += _check("metadata.labels", str(value), is_label_value)
    annotations = meta.get("annotations") or {}
    for key in annotations:
        errors += [
            invalid_value("metadata.annotations", key, m) for m in is_qualified_name(key.lower())
        ]
    size = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE:
        detail = f"must have at most {TOTAL_ANNOTATION_SIZE} bytes"
        errors.append(FieldError("FieldValueTooLong", "metadata.annotations", "", detail))
    for finalizer in meta.get("finalizers") or []:
        errors += _check("metadata.finalizers", finalizer, is_qualified_name)
    return errors


def finalizer_warnings(meta: Obj) -> list[str]:
    """The real server's warning for a finalizer name without a domain prefix."""
    return [
        f'metadata.finalizers: "{f}": prefer a domain-qualified finalizer name including a '
        "path (/) to avoid accidental conflicts with other finalizer writers"
        for f in meta.get("finalizers") or []
        if "/" not in f and f not in STANDARD_FINALIZERS
    ]


# --- pod specs ---------------------------------------------------------------------------


def _env(path: str, env: list[Obj]) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, var in enumerate(env):
        name = var.get("name") or ""
        if not name:
            errors.append(required(f"{path}[{i}].name"))
        else:
            errors += _check(f"{path}[{i}].name", name, is_env_var_name)
    return errors


def _containers(path: str, containers: list[Obj], volumes: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        at = f"{path}[{i}]"
        name = container.get("name") or ""
        if not name:
            errors.append(required(f"{at}.name"))
        else:
            errors += _check(f"{at}.name", name, is_dns1123_label)
            if name in seen:
                errors.append(FieldError("FieldValueDuplicate", f"{at}.name", name))
            seen.add(name)
        if not container.get("image"):
            errors.append(required(f"{at}.image"))
        errors += _env(f"{at}.env", container.get("env") or [])
        for j, mount in enumerate(container.get("volumeMounts") or []):
            if mount.get("name") not in volumes:
                where = f"{at}.volumeMounts[{j}].name"
                errors.append(FieldError("FieldValueNotFound", where, mount.get("name")))
        for j, port in enumerate(container.get("ports") or []):
            if "name" in port and len(str(port["name"])) > 15:
                detail = "must be no more than 15 characters"
                errors.append(invalid_value(f"{at}.ports[{j}].name", port["name"], detail))
    return errors


def validate_pod_spec(path: str, spec: Obj, *, claims: Iterable[str] = ()) -> list[FieldError]:
    """A PodSpec at `path` ("spec", "spec.template.spec"); a StatefulSet's pods also mount
    its volume claim templates (`claims`)."""
    errors: list[FieldError] = []
    volumes: set[str] = set(claims)
    for i, volume in enumerate(spec.get("volumes") or []):
        name = volume.get("name") or ""
        if not name:
            errors.append(required(f"{path}.volumes[{i}].name"))
            continue
        errors += _check(f"{path}.volumes[{i}].name", name, is_dns1123_label)
        if name in volumes:
            errors.append(FieldError("FieldValueDuplicate", f"{path}.volumes[{i}].name", name))
        volumes.add(name)
    containers = spec.get("containers") or []
    if not containers:
        errors.append(required(f"{path}.containers"))
    errors += _containers(f"{path}.containers", containers, volumes)
    errors += _containers(f"{path}.initContainers", spec.get("initContainers") or [], volumes)
    for field in ("hostname", "subdomain"):
        if spec.get(field):
            errors += _check(f"{path}.{field}", spec[field], is_dns1123_label)
    return errors


# --- by kind -----------------------------------------------------------------------------


def _template(path: str, obj: Obj) -> list[FieldError]:
    template = obj.get("spec", {}).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    errors: list[FieldError] = []
    for key, value in labels.items():
        errors += _check(f"{path}.metadata.labels", key, is_qualified_name)
        errors += _check(f"{path}.metadata.labels", str(value), is_label_value)
    claims = [
        (c.get("metadata") or {}).get("name", "")
        for c in obj.get("spec", {}).get("volumeClaimTemplates") or []
    ]
    return errors + validate_pod_spec(f"{path}.spec", template.get("spec") or {}, claims=claims)


def _data_keys(obj: Obj) -> list[FieldError]:
    errors: list[FieldError] = []
    for field in ("data", "stringData", "binaryData"):
        for key in obj.get(field) or {}:
            errors += _check(f"{field}[{key}]", key, is_config_map_key)
    return errors


def _namespace_finalizers(obj: Obj) -> list[FieldError]:
    errors: list[FieldError] = []
    for finalizer in obj.get("spec", {}).get("finalizers") or []:
        path = "spec.finalizers"
        errors += _check(path, finalizer, is_qualified_name)
        if "/" not in finalizer and finalizer not in STANDARD_FINALIZERS:
            detail = "name is neither a standard finalizer name nor is it fully qualified"
            errors.append(invalid_value(path, finalizer, detail))
    return errors


_BY_KIND: dict[str, Callable[[Obj], list[FieldError]]] = {
    "pods": lambda obj: validate_pod_spec("spec", obj.get("spec") or {}),
    "jobs": lambda obj: _template("spec.template", obj),
    "deployments": lambda obj: _template("spec.template", obj),
    "statefulsets": lambda obj: _template("spec.template", obj),
    "secrets": _data_keys,
    "configmaps": _data_keys,
    "namespaces": _namespace_finalizers,
}


def validate_object(plural: str, obj: Obj) -> list[FieldError]:
    """Every problem the API server's validation finds in `obj` (empty: valid)."""
    errors = validate_metadata(plural, obj.get("metadata") or {})
    check = _BY_KIND.get(plural)
    return errors + (check(obj) if check is not None else [])
