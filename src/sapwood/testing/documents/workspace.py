"""Workspace documents."""

from __future__ import annotations

from typing import Any

from sapwood.testing.documents.envelope import document

#: A command tool that stays up until stopped.
COMMAND = ["sleep", "3600"]


def workspace(name: str = "scratch", *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal valid Workspace (the ``command`` tool); keyword arguments override spec
    fields (``tool="jupyter"``, ``idleTimeout=``)."""
    return document("Workspace", name, {"tool": "command", "command": COMMAND, **spec}, team=team)
