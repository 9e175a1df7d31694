"""Job documents."""

from __future__ import annotations

from typing import Any

from sapwood.testing.documents.envelope import document

#: A command that works anywhere Python does, and ends at once.
COMMAND = ["python", "-c", "print('hi')"]


def job(name: str = "train", *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal valid Job; keyword arguments override spec fields (``command=``, ``gpu=``)."""
    return document("Job", name, {"command": COMMAND, **spec}, team=team)
