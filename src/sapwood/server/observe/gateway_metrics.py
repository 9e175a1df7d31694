"""The gateway's request figures on the server's /metrics, scoped to the caller's teams."""

from __future__ import annotations

import logging
import re

import httpx

from sapwood.server.gateway.stats import KEY_HEADER, stats_key
from sapwood.server.services.access import Caller, can_read

log = logging.getLogger("sapwood.metrics")
_TEAM = re.compile(r'[{,]team="([^"\\]*)"')


def scoped(exposition: str, caller: Caller) -> str:
    """The exposition with the samples of teams the caller cannot read left out."""
    kept = []
    for line in exposition.splitlines():
        match = _TEAM.search(line) if not line.startswith("#") else None
        if match is None or can_read(caller, match.group(1)):
            kept.append(line)
    return "\n".join(kept) + "\n" if kept else ""


async def gateway_exposition(url: str, server_key: bytes, caller: Caller) -> str:
    """The gateway's figures, or nothing (logged) when it does not answer."""
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            response = await client.get(
                url.rstrip("/") + "/_sapwood/metrics", headers={KEY_HEADER: stats_key(server_key)}
            )
            response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("gateway metrics unavailable: %s", exc)
        return ""
    return scoped(response.text, caller)
