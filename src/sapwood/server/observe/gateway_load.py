"""The gateway's request statistics as the autoscaler's load: the seam between processes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from sapwood.server.controller.plan.autoscaler import Load, Second
from sapwood.server.controller.plan.scaling import Loads
from sapwood.server.gateway.stats import GatewayStats, fetch_stats, stats_key


def to_loads(stats: GatewayStats) -> Loads:
    """Per (team, service): its one-second buckets, requests in flight and held."""
    return {
        (s.team, s.service): Load(
            seconds=tuple(Second(_time(b.start), b.requests, b.concurrency) for b in s.buckets),
            in_flight=s.in_flight,
            held=s.held,
            last_request_at=_time(s.last_request_at) if s.last_request_at is not None else None,
        )
        for s in stats.services
    }


class GatewayLoadSource:
    """Asks the gateway at ``url`` once per call (raises when it cannot be reached) over
    one pooled connection; ``aclose()`` when the controller stops."""

    def __init__(self, url: str, server_key: bytes) -> None:
        self._url = url
        self._key = stats_key(server_key)
        self._client = httpx.AsyncClient()

    async def __call__(self) -> Loads | None:
        stats = await fetch_stats(self._url, self._key, client=self._client, timeout_s=1.0)
        return to_loads(stats)

    async def aclose(self) -> None:
        await self._client.aclose()


def _time(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)
