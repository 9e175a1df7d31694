"""Strict schema checks of the Kubernetes API double, with kubernetes-validate's schemas.

The real API server decodes every write into its Go types, so a field the type lacks is
refused or dropped, and a value of the wrong type is refused. `check_schema` does the same
from the OpenAPI-derived JSON schemas that kubernetes-validate ships (one set per release),
honouring the request's `fieldValidation`:

- create, update and merge patch: `Strict` answers 400 `strict decoding error: unknown field
  "spec.foo"`; `Warn` (the server's default) drops the field and returns a warning; `Ignore`
  drops it silently. A wrong type is 400, a missing required field 422.
- server-side apply is always strict, whatever `fieldValidation` says: the server cannot
  build the typed patch and answers `failed to create typed patch object (...): .spec.foo:
  field not declared in schema` (a 500 without a reason, as it does today).
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate.utils  # type: ignore[import-untyped]
from referencing import Registry, Resource

from sapwood.testing.kube_errors import ApiError
from sapwood.testing.kube_validation import invalid, invalid_value, required

Obj = dict[str, Any]

FIELD_VALIDATIONS = ("Strict", "Warn", "Ignore")
SCHEMA_VERSION = kubernetes_validate.utils.latest_version()

_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number"}


@dataclass(frozen=True)
class SchemaProblem:
    path: list[str | int]
    validator: str
    message: str
    value: Any
    missing: tuple[str, ...] = ()


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    """The strict schema's validator for a kind; None when kubernetes-validate has none."""
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{SCHEMA_VERSION}-local-strict"
    try:
        schema = kubernetes_validate.utils.schema_contents(
            f"{folder}/{kind.lower()}-{group}.json", SCHEMA_VERSION
        )
    except FileNotFoundError:
        return None
    definitions = kubernetes_validate.utils.schema_contents(
        f"{folder}/_definitions.json", SCHEMA_VERSION
    )
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _problems(obj: Obj) -> list[SchemaProblem]:
    validator = _validator(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if validator is None:
        return []
    found = []
    for error in validator.iter_errors(obj):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            known = error.schema.get("properties") or {}
            found += [
                SchemaProblem([*path, k], "unknown", "", error.instance[k])
                for k in error.instance
                if k not in known
            ]
        elif error.validator == "required":
            missing = tuple(k for k in error.validator_value if k not in error.instance)
            found.append(SchemaProblem(path, "required", error.message, None, missing))
        else:
            found.append(SchemaProblem(path, str(error.validator), error.message, error.instance))
    return found


def dotted(path: list[str | int]) -> str:
    """A decoder's path: spec.containers[0].foo."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _typed_path(obj: Obj, path: list[str | int]) -> str:
    """structured-merge-diff's path: .spec.containers[name="main"].foo."""
    out = ""
    node_: Any = obj
    for part in path:
        if isinstance(part, int) and isinstance(node_, list):
            item: Any = node_[part] if part < len(node_) else {}
            named = isinstance(item, dict) and "name" in item
            out += f'[name="{item["name"]}"]' if named else f"[{part}]"
            node_ = item
        else:
            out += f".{part}"
            node_ = node_.get(str(part)) if isinstance(node_, dict) else None
    return out


def _drop(obj: Obj, path: list[str | int]) -> None:
    node: Any = obj
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1], None)


def _gvk(obj: Obj) -> str:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return f"{group}/{version}, Kind={obj.get('kind', '')}"


def check_apply(obj: Obj, *, namespace: str) -> None:
    """An applied configuration: any field the schema lacks or mistypes is refused."""
    problems = _problems(obj)
    if not problems:
        return
    first = problems[0]
    where = _typed_path(obj, first.path)
    if first.validator == "unknown":
        what = "field not declared in schema"
    elif first.validator == "required":
        return  # an applied configuration may leave out required fields: the merge has them
    else:
        what = f"expected {first.message}"
    name = obj.get("metadata", {}).get("name", "")
    message = (
        f"failed to create typed patch object ({namespace}/{name}; {_gvk(obj)}): {where}: {what}"
    )
    raise ApiError(500, "", message)


def check_schema(obj: Obj, *, field_validation: str, create: bool) -> tuple[Obj, list[str]]:
    """`obj` as the server would store it (unknown fields dropped) and the warnings to send.

    Raises ApiError: 400 for unknown fields under Strict and for wrong types, 422 for
    missing required fields or values the schema refuses.
    """
    if field_validation not in FIELD_VALIDATIONS:
        supported = ", ".join(f'"{v}"' for v in FIELD_VALIDATIONS)
        message = f"fieldValidation: Unsupported value: {field_validation!r}: supported values: "
        raise ApiError(400, "BadRequest", message + supported)
    problems = _problems(obj)
    unknown = [p for p in problems if p.validator == "unknown"]
    kind, version = obj.get("kind", ""), str(obj.get("apiVersion", "")).rpartition("/")[2]
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: ' if create else ""
    if unknown and field_validation == "Strict":
        fields = ", ".join(f'unknown field "{dotted(p.path)}"' for p in unknown)
        raise ApiError(400, "BadRequest", f"{prefix}strict decoding error: {fields}")
    kept = copy.deepcopy(obj)
    for problem in sorted(unknown, key=lambda p: len(p.path), reverse=True):
        _drop(kept, problem.path)
    warnings = (
        [f'unknown field "{dotted(p.path)}"' for p in unknown] if field_validation == "Warn" else []
    )
    typed = [p for p in problems if p.validator in ("type", "oneOf", "anyOf")]
    if typed:
        first = typed[0]
        got = _JSON_TYPES.get(type(first.value), "object")
        message = f"json: cannot unmarshal {got} into Go struct field {dotted(first.path)}"
        raise ApiError(400, "BadRequest", prefix + message)
    errors = []
    for problem in problems:
        at = dotted(problem.path)
        if problem.validator == "required":
            errors += [required(f"{at}.{m}" if at else m) for m in problem.missing]
        elif problem.validator not in ("unknown", "type", "oneOf", "anyOf"):
            errors.append(invalid_value(at, problem.value, problem.message))
    if errors:
        raise invalid(obj, errors)
    return kept, warnings
