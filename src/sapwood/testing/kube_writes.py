"""What the Kubernetes API double checks on every write, in the API server's order.

Decoding first (`kube_schema`: unknown fields and types, per `fieldValidation`), then
validation (`kube_validation`: names, labels, finalizers, env and volume names...), then on
updates the rules of what may change (`kube_update_rules`). `WriteOptions` carries a
request's `fieldValidation` and `dryRun` and collects the warnings the answer sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sapwood.testing.kube_objects import fold_string_data
from sapwood.testing.kube_schema import check_apply as check_apply
from sapwood.testing.kube_schema import check_schema
from sapwood.testing.kube_update_rules import validate_update
from sapwood.testing.kube_validation import finalizer_warnings, invalid, validate_object

Obj = dict[str, Any]


@dataclass
class WriteOptions:
    """A write's query parameters; `warnings` fills with what the answer's Warning headers
    say. The server's default fieldValidation is Warn."""

    field_validation: str = "Warn"
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)


def admit_create(plural: str, obj: Obj, options: WriteOptions) -> Obj:
    """`obj` as the server would store it; raises ApiError (400, 422) to refuse it."""
    kept, warnings = check_schema(obj, field_validation=options.field_validation, create=True)
    errors = validate_object(plural, kept)
    if errors:
        raise invalid(kept, errors)
    options.warnings += warnings + finalizer_warnings(kept["metadata"])
    return fold_string_data(kept) if plural == "secrets" else kept


def admit_update(plural: str, new: Obj, old: Obj, options: WriteOptions) -> Obj:
    """`new` (the live object with the change merged in) as the server would store it;
    raises ApiError to refuse the change."""
    kept, warnings = check_schema(new, field_validation=options.field_validation, create=False)
    errors = validate_object(plural, kept) + validate_update(plural, kept, old)
    if errors:
        raise invalid(kept, errors)
    added = set(kept["metadata"].get("finalizers") or []) - set(
        old["metadata"].get("finalizers") or []
    )
    options.warnings += warnings + finalizer_warnings({"finalizers": sorted(added)})
    return fold_string_data(kept) if plural == "secrets" else kept


def write_options(query: Mapping[str, str]) -> WriteOptions:
    """A write request's options from its query (`fieldValidation`, `dryRun=All`)."""
    return WriteOptions(
        field_validation=query.get("fieldValidation") or "Warn",
        dry_run=query.get("dryRun") == "All",
    )


def warning_headers(options: WriteOptions) -> dict[str, str]:
    """The answer's `Warning` header (RFC 7234 code 299, as the API server sends them)."""
    if not options.warnings:
        return {}
    return {"Warning": ", ".join(f"299 - {json.dumps(w)}" for w in options.warnings)}
