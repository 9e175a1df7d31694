"""Where people open a workspace: the gateway's address and the workspace's path."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from sapwood.specs.paths import workspace_path

GATEWAY_PORT = 8421  # `sapwood server`'s default (--gateway-port)


def gateway_base(api_url: str, env: Mapping[str, str]) -> str:
    """The gateway as users reach it: ``SAPWOOD_GATEWAY_URL`` when set, else the API's host
    on the default gateway port (where `sapwood server` starts it)."""
    explicit = env.get("SAPWOOD_GATEWAY_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    parts = urlsplit(api_url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme or 'http'}://{host}:{GATEWAY_PORT}"


def workspace_url(gateway: str, team: str, name: str) -> str:
    """The URL of a workspace on the gateway, for a browser or `curl`."""
    return gateway.rstrip("/") + workspace_path(team, name)
