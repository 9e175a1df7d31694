"""The gateways' request statistics as the autoscaler's load: the seam between processes.

Every server replica runs a gateway, and the Service in front of them spreads requests over
all of them, so the leader's controller reads its own gateway over loopback and every other
live replica's gateway at the address it advertises (server/replicas.py), and merges the
figures (`merge_loads`). A replica that cannot be reached is left out of that round with a
warning; it never holds the round up. With no other replicas (one process, the local
case) this is its own gateway alone, as it always was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime

import httpx

from sapwood.server.clock import Clock, SystemClock
from sapwood.server.controller.plan.autoscaler import Load, Second
from sapwood.server.controller.plan.scaling import Loads, ServiceKey
from sapwood.server.gateway.stats import GatewayStats, fetch_stats, stats_key

log = logging.getLogger("sapwood.server.gateway_load")

FETCH_TIMEOUT_S = 1.0
WARN_EVERY_S = 60.0  # one warning per unreachable peer per minute

# The gateway URLs of the other live replicas, read afresh each round.
PeerUrls = Callable[[], Awaitable[Sequence[str]]]


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


def merge_loads(parts: Iterable[Loads]) -> Loads:
    """Several gateways' loads as one: per service, requests and concurrency summed second
    by second (buckets aligned by their start), in-flight and held requests summed, the
    latest request kept. A service one gateway has not seen counts as no traffic there."""
    merged: dict[ServiceKey, Load] = {}
    for loads in parts:
        for key, load in loads.items():
            seen = merged.get(key)
            merged[key] = load if seen is None else _add(seen, load)
    return merged


def _add(a: Load, b: Load) -> Load:
    seconds: dict[datetime, Second] = {s.at: s for s in a.seconds}
    for s in b.seconds:
        other = seconds.get(s.at)
        seconds[s.at] = (
            s
            if other is None
            else Second(s.at, other.requests + s.requests, other.concurrency + s.concurrency)
        )
    latest = [t for t in (a.last_request_at, b.last_request_at) if t is not None]
    return Load(
        seconds=tuple(seconds[at] for at in sorted(seconds)),
        in_flight=a.in_flight + b.in_flight,
        held=a.held + b.held,
        last_request_at=max(latest) if latest else None,
    )


def due_warning(last_warned_at: float | None, *, now: float, every_s: float = WARN_EVERY_S) -> bool:
    """Whether a peer that failed again at monotonic ``now`` is worth another warning."""
    return last_warned_at is None or now - last_warned_at >= every_s


class GatewayLoadSource:
    """Asks the gateway at ``url`` (this replica's own) once per call, and every peer
    ``peers`` names, concurrently over one pooled client; raises when its own gateway cannot
    be reached, skips (and warns about) a peer that cannot. ``aclose()`` when the controller
    stops."""

    def __init__(
        self,
        url: str,
        server_key: bytes,
        *,
        peers: PeerUrls | None = None,
        clock: Clock | None = None,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        self._url = url
        self._key = stats_key(server_key)
        self._peers = peers
        self._clock = clock or SystemClock()
        self._timeout_s = timeout_s
        self._warned: dict[str, float] = {}  # peer URL: monotonic time of its last warning
        self._client = httpx.AsyncClient()

    async def __call__(self) -> Loads | None:
        peers = [u for u in await self._peers() if u != self._url] if self._peers else []
        own, *others = await asyncio.gather(
            self._fetch(self._url), *(self._fetch(u) for u in peers), return_exceptions=True
        )
        if isinstance(own, BaseException):
            raise own
        parts = [own]
        for url, result in zip(peers, others, strict=True):
            if isinstance(result, BaseException):
                self._warn(url, result)
            else:
                self._warned.pop(url, None)
                parts.append(result)
        return merge_loads(parts)

    async def _fetch(self, url: str) -> Loads:
        stats = await fetch_stats(url, self._key, client=self._client, timeout_s=self._timeout_s)
        return to_loads(stats)

    def _warn(self, url: str, error: BaseException) -> None:
        now = self._clock.monotonic()
        if due_warning(self._warned.get(url), now=now):
            self._warned[url] = now
            log.warning(
                "the gateway of replica %s did not answer (%s); its load is left out",
                url,
                error or type(error).__name__,
            )

    async def aclose(self) -> None:
        await self._client.aclose()


def _time(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)
