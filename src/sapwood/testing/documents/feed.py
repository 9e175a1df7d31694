"""Feed documents."""

from __future__ import annotations

from typing import Any

from sapwood.testing.documents.envelope import document


def feed(
    name: str = "traffic",
    *,
    team: str | None = None,
    schema: str | list[dict[str, Any]] = "antinex-v1",
    model: str = "ids@production",
    **spec: Any,
) -> dict[str, Any]:
    """A minimal valid Feed: AntiNex-v1 records (or ``schema``'s columns) scored by
    ``model``; keyword arguments override other spec fields (``labelColumn=``)."""
    return document("Feed", name, {"schema": schema, "model": model, **spec}, team=team)
