"""Request statistics the autoscaler reads: a rolling per-second window for each service.

Pure dataclasses and arithmetic, plus ``fetch_stats``, the small client the controller
calls. Times are seconds since the epoch (the gateway and the controller are different
processes, so they share the wall clock, not a monotonic one).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

KEY_HEADER = "X-Sapwood-Gateway-Key"
WINDOW_S = 60


def stats_key(server_key: bytes) -> str:
    """What a caller of /_sapwood/stats and /_sapwood/metrics presents in ``KEY_HEADER``."""
    return hmac.new(server_key, b"gateway-stats", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SecondBucket:
    """One whole second: requests that arrived in it and the average number in flight."""

    start: float
    requests: int
    concurrency: float


@dataclass(frozen=True)
class ServiceStats:
    team: str
    service: str
    buckets: tuple[SecondBucket, ...]  # whole seconds, oldest first, at most WINDOW_S
    in_flight: int  # held requests included
    held: int  # waiting for a first ready replica
    last_request_at: float | None
    requests: int = 0  # since the gateway started
    responses: Mapping[str, int] = field(default_factory=dict)  # "2xx": count, …

    def recent(self, window_s: float) -> tuple[SecondBucket, ...]:
        """The buckets of the last ``window_s`` seconds (whole seconds, rounded up)."""
        count = max(1, math.ceil(window_s))
        return self.buckets[-count:]

    def average_concurrency(self, window_s: float) -> float:
        """Mean requests in flight over the window; 0 with no buckets yet."""
        buckets = self.recent(window_s)
        return sum(b.concurrency for b in buckets) / len(buckets) if buckets else 0.0

    def requests_per_second(self, window_s: float) -> float:
        buckets = self.recent(window_s)
        return sum(b.requests for b in buckets) / len(buckets) if buckets else 0.0


@dataclass(frozen=True)
class GatewayStats:
    time: float
    services: tuple[ServiceStats, ...]

    def service(self, team: str, service: str) -> ServiceStats | None:
        """The stats of one service; None when the gateway has seen no request for it."""
        for stats in self.services:
            if stats.team == team and stats.service == service:
                return stats
        return None


class ConcurrencyWindow:
    """Counts requests and integrates requests-in-flight over time, per whole second.

    Every method takes the current time, so tests drive it with plain numbers.
    """

    def __init__(self, *, now: float, seconds: int = WINDOW_S) -> None:
        self.in_flight = 0
        self.last_request_at: float | None = None
        self._second = math.floor(now)
        self._count = 0
        self._integral = 0.0
        self._last = now
        self._done: deque[SecondBucket] = deque(maxlen=seconds)

    def start(self, now: float) -> None:
        """A request arrived."""
        self._advance(now)
        self.in_flight += 1
        self._count += 1
        self.last_request_at = now

    def finish(self, now: float) -> None:
        """A request ended (answered, failed or abandoned)."""
        self._advance(now)
        self.in_flight -= 1

    def buckets(self, now: float) -> tuple[SecondBucket, ...]:
        """The whole seconds before ``now``, oldest first."""
        self._advance(now)
        return tuple(self._done)

    def _advance(self, now: float) -> None:
        if now < self._last:  # the wall clock stepped back: count from here
            self._last = now
        end = self._second + 1
        if now < end:
            self._integral += self.in_flight * (now - self._last)
            self._last = now
            return
        self._integral += self.in_flight * (end - self._last)
        self._done.append(SecondBucket(float(self._second), self._count, self._integral))
        whole = math.floor(now)
        maxlen = self._done.maxlen or 0
        # Seconds with no change at all: nothing arrived, in-flight stayed the same.
        for second in range(max(end, whole - maxlen), whole):
            self._done.append(SecondBucket(float(second), 0, float(self.in_flight)))
        self._second = whole
        self._count = 0
        self._integral = self.in_flight * (now - self._second)
        self._last = now


def stats_to_json(stats: GatewayStats) -> dict[str, Any]:
    return {
        "time": stats.time,
        "services": [
            {
                "team": s.team,
                "service": s.service,
                "inFlight": s.in_flight,
                "held": s.held,
                "lastRequestAt": s.last_request_at,
                "requests": s.requests,
                "responses": dict(s.responses),
                "buckets": [[b.start, b.requests, round(b.concurrency, 6)] for b in s.buckets],
            }
            for s in stats.services
        ],
    }


def stats_from_json(data: Mapping[str, Any]) -> GatewayStats:
    """The inverse of ``stats_to_json``; KeyError or ValueError on another shape."""
    return GatewayStats(
        time=float(data["time"]),
        services=tuple(
            ServiceStats(
                team=str(s["team"]),
                service=str(s["service"]),
                buckets=tuple(
                    SecondBucket(float(b[0]), int(b[1]), float(b[2])) for b in s["buckets"]
                ),
                in_flight=int(s["inFlight"]),
                held=int(s["held"]),
                last_request_at=(
                    float(s["lastRequestAt"]) if s.get("lastRequestAt") is not None else None
                ),
                requests=int(s.get("requests", 0)),
                responses={str(k): int(v) for k, v in s.get("responses", {}).items()},
            )
            for s in data["services"]
        ),
    )


async def fetch_stats(
    url: str, key: str, *, timeout_s: float = 2.0, client: httpx.AsyncClient | None = None
) -> GatewayStats:
    """The gateway's stats from ``url`` (its base URL); raises httpx errors on failure."""
    headers = {KEY_HEADER: key}
    target = url.rstrip("/") + "/_sapwood/stats"
    if client is not None:
        response = await client.get(target, headers=headers, timeout=timeout_s)
    else:
        async with httpx.AsyncClient() as own:
            response = await own.get(target, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return stats_from_json(response.json())
