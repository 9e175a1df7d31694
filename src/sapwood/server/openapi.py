"""The OpenAPI document, completed: what FastAPI generates from the routes, plus what it
cannot see (who may call, every error each operation can answer, bodies the routes read
raw, media types of the streaming answers).

One pure function, ``complete``, post-processes the generated document; ``install`` makes
it ``app.openapi``. The rules live here, in tables, rather than in ``responses=`` on every
route, so the document stays true in one place.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from sapwood.schemas import ErrorBody
from sapwood.schemas.feeds import ARROW_STREAM, CSV, JSON_LINES, PARQUET
from sapwood.specs.objects import KINDS, PLURALS

Document = dict[str, Any]

BEARER = "bearerToken"
DASHBOARD = "dashboardSession"
# Routes anyone may call: probes. The document and /docs are not operations in it.
PUBLIC = frozenset({"/healthz", "/readyz"})
SECURITY_SCHEMES: Document = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sw_<id>_<secret>",
        "description": "A user's or a workload's token, sent once in `Authorization`.",
    },
    DASHBOARD: {
        "type": "apiKey",
        "in": "cookie",
        "name": "sapwood_session",
        "description": (
            "The dashboard's sign-in cookie: it authenticates the /ui pages (HTML, not "
            "listed here), never the /api/v1 operations."
        ),
    },
}

ERROR_REF = "#/components/schemas/ErrorBody"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"required": True, "schema": {"type": "string", "enum": ["Bearer"]}}
}
# What each error status means, and the headers it always carries.
ERRORS: Mapping[str, tuple[str, Document]] = {
    "400": ("the body could not be parsed at all (not JSON, not UTF-8)", {}),
    "401": ("missing, malformed, unknown, revoked or expired token", _WWW_AUTHENTICATE),
    "403": ("the token may not do this (a viewer writing, a workload outside its scope)", {}),
    "404": ("no such object, or one in a team the caller is not in (names do not leak)", {}),
    "409": ("conflicts with the current state: a stale resourceVersion, a name taken", {}),
    "413": ("request body over the server's limit (SAPWOOD_MAX_BODY_BYTES)", {}),
    "422": ("the request is not valid: details name each field path", {}),
    "429": ("too many open streams for this token", _RETRY_AFTER),
    "503": ("the database (or the artifact store, or the feed broker) is unreachable", {}),
}
_RETRY_AFTER_503: Document = {
    "Retry-After": {
        "description": "sent while the database is unreachable",
        "schema": {"type": "integer", "minimum": 0},
    }
}

# Operations that can answer 409, and 429, besides the statuses every operation gets.
CONFLICTS = frozenset(
    {
        ("post", "/api/v1/apply"),
        ("delete", "/api/v1/{plural}/{name}"),
        ("post", "/api/v1/{plural}/{name}/pause"),
        ("post", "/api/v1/{plural}/{name}/resume"),
        ("post", "/api/v1/teams"),
        ("delete", "/api/v1/teams/{name}"),
        ("post", "/api/v1/users"),
        ("delete", "/api/v1/tokens/{token_id}"),
        ("post", "/api/v1/teams/{team}/models/{name}/versions"),
        ("delete", "/api/v1/teams/{team}/models/{name}/aliases/{alias}"),
        ("delete", "/api/v1/teams/{team}/models/{name}/versions/{ref}"),
        ("delete", "/api/v1/teams/{team}/channels/{name}"),
    }
)
STREAM_CAPPED = frozenset({("get", "/api/v1/{plural}/{name}/logs")})
# Operations whose 404 comes from something other than a path or a team/user parameter:
# a team or user named in the body.
NOT_FOUND_ALSO = frozenset(
    {("post", "/api/v1/apply"), ("post", "/api/v1/users"), ("post", "/api/v1/tokens")}
)
_LOOKUP_QUERIES = frozenset({"team", "user"})


def _raw(*media: str) -> Document:
    return {m: {"schema": {"type": "string", "format": "binary"}} for m in media}


_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# Bodies the routes read raw (so FastAPI cannot see them), and answers it cannot type.
REQUEST_BODIES: Mapping[tuple[str, str], Document] = {
    ("post", "/api/v1/feeds/{name}/records"): {
        "required": True,
        "description": "records: a JSON array of objects, JSON lines, CSV, Arrow IPC or Parquet",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            **_raw(JSON_LINES, CSV, ARROW_STREAM, PARQUET),
        },
    },
    ("post", "/api/v1/feeds/{name}/ack"): {
        "required": True,
        "description": "the batch's results: an Arrow IPC stream, one row per record",
        "content": _raw(ARROW_STREAM),
    },
}
ANSWERS: Mapping[tuple[str, str], Document] = {
    ("get", "/api/v1/{plural}/{name}/logs"): {
        "200": {"description": "the replica's output as text", "content": _TEXT}
    },
    ("get", "/metrics"): {"200": {"description": "Prometheus text exposition", "content": _TEXT}},
    ("post", "/api/v1/feeds/{name}/lease"): {
        "200": {
            "description": "one batch as an Arrow IPC stream; the headers say how to score it",
            "content": _raw(ARROW_STREAM),
            "headers": {
                name: {"required": True, "schema": {"type": "string"}}
                for name in (
                    "Sapwood-Lease-Id",
                    "Sapwood-Model",
                    "Sapwood-Features",
                    "Sapwood-First-Sequence",
                    "Sapwood-Attempt",
                )
            },
        },
        "204": {"description": "no batch arrived within `wait` seconds"},
    },
    ("post", "/api/v1/feeds/{name}/ack"): {
        "200": {
            "description": "whether the results were stored now",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["stored", "firstSequence", "count"],
                        "properties": {
                            "stored": {"type": "boolean"},
                            "firstSequence": {"type": "integer"},
                            "count": {"type": "integer"},
                        },
                    }
                }
            },
        }
    },
    ("get", "/api/v1/feeds/{name}/results"): {
        "200": {
            "description": "a page of results (json), or all of them (csv, parquet)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/FeedResultPage"}},
                CSV: {"schema": {"type": "string"}},
                **_raw(PARQUET),
            },
        }
    },
    ("get", "/readyz"): {
        "503": {
            "description": "not ready: the database does not answer, or no connection is free",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["status", "reason"],
                        "properties": {
                            "status": {"type": "string", "enum": ["unavailable"]},
                            "reason": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
}


def install(app: FastAPI, *, max_page_size: int) -> None:
    """Makes ``app.openapi`` answer the completed document (built once, then cached)."""
    generate = app.openapi

    def openapi() -> Document:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), max_page_size=max_page_size)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(doc: Mapping[str, Any], path: str) -> str | None:
    """The ``Allow`` value for a 405 on ``path``: the methods the document lists for the
    first path template that matches it (routes match in the document's order), or None
    for a path the document does not list (the dashboard's pages)."""
    for template, operations in doc.get("paths", {}).items():
        if _template_pattern(template).fullmatch(path):
            methods = (m.upper() for m in operations if m in _HTTP_METHODS)
            return ", ".join(sorted(methods))
    return None


def unknown_resource(doc: Mapping[str, Any], path: str) -> str | None:
    """For a path no route matched: its first segment under /api/v1/ when no documented
    path starts with it (a mistyped plural, say), else None."""
    segment = path.removeprefix(_API).split("/")[0] if path.startswith(_API) else ""
    known = {t.removeprefix(_API).split("/")[0] for t in doc.get("paths", {})}
    known |= set(PLURALS)
    return segment if segment and segment not in known else None


_API = "/api/v1/"
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile(
        "".join(_PARAMETER.get(p, "[^/]+") if p.startswith("{") else re.escape(p) for p in parts)
    )


# {plural} matches only the plurals (routes/params.py), as the routes do.
_PARAMETER = {"{plural}": "(?:" + "|".join(map(re.escape, sorted(PLURALS))) + ")"}


def complete(generated: Document, *, max_page_size: int) -> Document:
    """The generated document with security, error answers, raw bodies, media types and
    page limits (1 to ``max_page_size``, which routes check by hand) filled in;
    ``generated`` is left as it was."""
    doc = copy.deepcopy(generated)
    components = doc.setdefault("components", {})
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    schemas.update(_error_schemas())
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(method, path, operation)
            for param in operation.get("parameters", []):
                _bound_limit(param, max_page_size)
                _name_kinds(param)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def _bound_limit(param: Document, maximum: int) -> None:
    """A ``limit`` query parameter without bounds is a page size checked by
    services/paging.clamp_limit: 1 to the server's maximum."""
    if param.get("in") != "query" or param.get("name") != "limit":
        return
    schema = param.get("schema", {})
    for branch in [schema, *schema.get("anyOf", [])]:
        if branch.get("type") == "integer" and "maximum" not in branch:
            branch.update(minimum=1, maximum=maximum)


def _name_kinds(param: Document) -> None:
    """The ``{plural}`` path parameter and the ``kind`` filter take the kinds there are
    (routes check them by hand, against specs/objects.py)."""
    if param.get("in") == "path" and param.get("name") == "plural":
        param["schema"]["enum"] = sorted(PLURALS)
    elif param.get("in") == "query" and param.get("name") == "kind":
        kinds = sorted({*PLURALS, *KINDS, *(k.lower() for k in KINDS)})
        schema = param.get("schema", {})
        for branch in [schema, *schema.get("anyOf", [])]:
            if branch.get("type") == "string":
                branch["enum"] = kinds


def _error_schemas() -> Document:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: Document = schema.pop("$defs", {})
    return {**defs, "ErrorBody": schema}


def _complete_operation(method: str, path: str, operation: Document) -> None:
    key = (method, path)
    if key in REQUEST_BODIES:
        operation["requestBody"] = copy.deepcopy(REQUEST_BODIES[key])
    responses: Document = operation.setdefault("responses", {})
    for status, answer in copy.deepcopy(ANSWERS.get(key, {})).items():
        responses[status] = answer
    if path in PUBLIC:
        operation["security"] = []
        return
    operation["security"] = [{BEARER: []}]
    for status in error_statuses(method, path, operation):
        responses[status] = _error_answer(status)


def error_statuses(method: str, path: str, operation: Mapping[str, Any]) -> list[str]:
    """The error statuses an authenticated operation can answer, in order."""
    params = operation.get("parameters", [])
    has_body = "requestBody" in operation
    found = {"401", "403", "503"}
    if params or has_body:
        found.add("422")
    if has_body:
        found.add("413")
    if _takes_json(operation):
        found.add("400")
    in_path = any(p.get("in") == "path" for p in params)
    looks_up = any(p.get("in") == "query" and p.get("name") in _LOOKUP_QUERIES for p in params)
    if in_path or looks_up or (method, path) in NOT_FOUND_ALSO:
        found.add("404")
    if (method, path) in CONFLICTS:
        found.add("409")
    if (method, path) in STREAM_CAPPED:
        found.add("429")
    return sorted(found)


def _takes_json(operation: Mapping[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def _error_answer(status: str) -> Document:
    description, headers = ERRORS[status]
    answer: Document = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if status == "503":
        headers = _RETRY_AFTER_503
    if headers:
        answer["headers"] = copy.deepcopy(headers)
    return answer
