"""Objects as the server returns them, built without a server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sapwood.schemas import Object
from sapwood.testing.documents import document, stored

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)

SPECS: dict[str, dict[str, Any]] = {
    "Job": {
        "command": ["python", "train.py"],
        "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1},
        "priority": "high",
        "replicas": 1,
    },
    "Service": {
        "command": "python -m http.server $PORT",
        "resources": {"cpu": "500m", "memory": "512Mi", "gpu": 0},
        "priority": "normal",
        "replicas": {"min": 1, "max": 3},
        "readiness": {"http": {"path": "/healthz"}, "period": "10s", "timeout": "1s"},
    },
    "Workspace": {
        "tool": "jupyter",
        "resources": {"cpu": "1", "memory": "2Gi", "gpu": 0},
        "priority": "normal",
    },
}

MakeObject = Callable[..., Object]


@pytest.fixture
def now() -> datetime:
    """The moment every test formats ages against."""
    return NOW


@pytest.fixture
def make_object() -> MakeObject:
    """Builds an object created ``age`` before ``now``."""

    def make(
        kind: str = "Job",
        name: str = "train",
        *,
        team: str = "research",
        age: timedelta = timedelta(minutes=5),
        status: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
        spec: dict[str, Any] | None = None,
    ) -> Object:
        doc = document(kind, name, SPECS[kind] if spec is None else spec, labels=labels)
        return Object.model_validate(
            stored(
                doc,
                team=team,
                status={"phase": "Running"} if status is None else status,
                resource_version=3,
                created_at=NOW - age,
            )
        )

    return make
