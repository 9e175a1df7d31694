"""Sapwood: a self-hosted platform for AI teams.

``from sapwood import Client`` is the SDK's front door. It is resolved on first use so
that light programs (the process shim, the model server) do not pay for httpx at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sapwood.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sapwood import client

        return getattr(client, name)
    raise AttributeError(f"module 'sapwood' has no attribute {name!r}")
