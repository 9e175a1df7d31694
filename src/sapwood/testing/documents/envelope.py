"""The envelope every kind shares, and an object as the server would store and return it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: When ``stored`` objects were created unless a test says otherwise.
CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def document(
    kind: str,
    name: str,
    spec: Mapping[str, Any],
    *,
    team: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``{apiVersion, kind, metadata, spec}``; without ``team`` the server picks the
    caller's only team, as for a document written by hand."""
    metadata: dict[str, Any] = {"name": name}
    if team:
        metadata["team"] = team
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "sapwood/v1", "kind": kind, "metadata": metadata, "spec": dict(spec)}


def stored(
    doc: Mapping[str, Any],
    *,
    team: str = "default",
    status: Mapping[str, Any] | None = None,
    uid: str = "0b6f3c2e-5f7e-4c55-9d4b-6a0c1b2d3e4f",
    generation: int = 1,
    resource_version: int = 1,
    created_at: datetime = CREATED_AT,
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    """``doc`` as the API returns it (JSON, ready for ``Object.model_validate``): with the
    metadata the server adds and a status. The document's own team wins over ``team``."""
    meta = dict(doc.get("metadata", {}))
    return {
        **doc,
        "metadata": {
            "labels": {},
            **meta,
            "team": meta.get("team") or team,
            "uid": uid,
            "generation": generation,
            "resourceVersion": resource_version,
            "createdAt": created_at.isoformat(),
            "updatedAt": (updated_at or created_at).isoformat(),
        },
        "status": dict(status or {}),
    }
