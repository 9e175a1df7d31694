"""Service documents: one that runs a command, and one that serves a registry model."""

from __future__ import annotations

from typing import Any

from sapwood.testing.documents.envelope import document

#: A command that serves HTTP anywhere Python does.
COMMAND = ["python", "-m", "http.server"]


def service(name: str = "web", *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal valid Service running a command; keyword arguments override spec fields."""
    return document("Service", name, {"command": COMMAND, **spec}, team=team)


def model_service(name: str, model: str, *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    """A Service that serves ``model`` (NAME@ALIAS or NAME@VERSION) from the registry with
    Sapwood's model server, so it takes no command."""
    return document("Service", name, {"model": model, **spec}, team=team)
