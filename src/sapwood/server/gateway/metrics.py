"""Request metrics per service and replica, kept in memory; rendered as stats or Prometheus.

Recording is a few dict operations per request: it runs on every proxied request.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from sapwood.server.gateway.stats import ConcurrencyWindow, GatewayStats, ServiceStats

LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
GATEWAY = ""  # the replica label of answers the gateway gave itself (401, 429, 503, …)

ServiceKey = tuple[str, str]  # (team, service)
ReplicaKey = tuple[str, str, str]  # (team, service, replica)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_S, value)] += 1
        self.total += value


@dataclass
class ServiceMetrics:
    window: ConcurrencyWindow
    held: int = 0
    requests: int = 0
    responses: dict[str, int] = field(default_factory=dict)  # "2xx": count


class GatewayMetrics:
    """Counters, histograms and the per-second windows; ``clock`` gives epoch seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.services: dict[ServiceKey, ServiceMetrics] = {}
        self.outstanding: dict[str, int] = {}  # by endpoint, for least-outstanding choice
        self.replica_of: dict[str, ServiceKey] = {}
        self.responses: dict[tuple[str, str, str, int], int] = {}
        self.shadow_responses: dict[tuple[str, str, str, int], int] = {}
        self.latency: dict[ReplicaKey, _Histogram] = {}

    def service(self, key: ServiceKey) -> ServiceMetrics:
        metrics = self.services.get(key)
        if metrics is None:
            metrics = self.services[key] = ServiceMetrics(ConcurrencyWindow(now=self.clock()))
        return metrics

    def admitted(self, key: ServiceKey) -> ServiceMetrics:
        """A request passed auth and limits and now counts as load."""
        metrics = self.service(key)
        metrics.window.start(self.clock())
        metrics.requests += 1
        return metrics

    def finished(self, metrics: ServiceMetrics) -> None:
        metrics.window.finish(self.clock())

    def dispatched(self, key: ServiceKey, endpoint: str) -> None:
        self.outstanding[endpoint] = self.outstanding.get(endpoint, 0) + 1
        self.replica_of[endpoint] = key

    def returned(self, endpoint: str) -> None:
        self.outstanding[endpoint] -= 1

    def answered(self, key: ServiceKey, replica: str, status: int, duration_s: float) -> None:
        """A response went back to the client (from a replica, or GATEWAY)."""
        counter = (key[0], key[1], replica, status)
        self.responses[counter] = self.responses.get(counter, 0) + 1
        metrics = self.services.get(key)
        if metrics is not None:
            group = _status_class(status)
            metrics.responses[group] = metrics.responses.get(group, 0) + 1
        histogram = self.latency.get((key[0], key[1], replica))
        if histogram is None:
            histogram = self.latency[(key[0], key[1], replica)] = _Histogram()
        histogram.observe(duration_s)

    def shadowed(self, key: ServiceKey, replica: str, status: int) -> None:
        """A shadow copy ended; status 0 when the canary gave no answer."""
        counter = (key[0], key[1], replica, status)
        self.shadow_responses[counter] = self.shadow_responses.get(counter, 0) + 1

    def snapshot(self) -> GatewayStats:
        now = self.clock()
        return GatewayStats(
            time=now,
            services=tuple(
                ServiceStats(
                    team=team,
                    service=service,
                    buckets=m.window.buckets(now),
                    in_flight=m.window.in_flight,
                    held=m.held,
                    last_request_at=m.window.last_request_at,
                    requests=m.requests,
                    responses=dict(m.responses),
                )
                for (team, service), m in sorted(self.services.items())
            ),
        )


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if status else "none"


def _labels(**labels: str | int) -> str:
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(metrics: GatewayMetrics) -> str:
    """The metrics in the Prometheus text format (version 0.0.4)."""
    lines: list[str] = []
    lines += [
        "# HELP sapwood_gateway_requests_total Responses sent, by service, replica and status.",
        "# TYPE sapwood_gateway_requests_total counter",
    ]
    for (team, service, replica, code), count in sorted(metrics.responses.items()):
        labels = _labels(team=team, service=service, replica=replica, code=code)
        lines.append(f"sapwood_gateway_requests_total{labels} {count}")
    lines += [
        "# HELP sapwood_gateway_shadow_requests_total Shadow copies sent to canaries.",
        "# TYPE sapwood_gateway_shadow_requests_total counter",
    ]
    for (team, service, replica, code), count in sorted(metrics.shadow_responses.items()):
        labels = _labels(team=team, service=service, replica=replica, code=code)
        lines.append(f"sapwood_gateway_shadow_requests_total{labels} {count}")
    lines += [
        "# HELP sapwood_gateway_request_duration_seconds Request arrival to end of response.",
        "# TYPE sapwood_gateway_request_duration_seconds histogram",
    ]
    name = "sapwood_gateway_request_duration_seconds"
    for (team, service, replica), histogram in sorted(metrics.latency.items()):
        cumulative = 0
        for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), histogram.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            labels = _labels(team=team, service=service, replica=replica, le=le)
            lines.append(f"{name}_bucket{labels} {cumulative}")
        labels = _labels(team=team, service=service, replica=replica)
        lines.append(f"{name}_sum{labels} {histogram.total}")
        lines.append(f"{name}_count{labels} {cumulative}")
    lines += [
        "# HELP sapwood_gateway_in_flight Requests being handled, held ones included.",
        "# TYPE sapwood_gateway_in_flight gauge",
    ]
    for (team, service), m in sorted(metrics.services.items()):
        lines.append(
            f"sapwood_gateway_in_flight{_labels(team=team, service=service)} {m.window.in_flight}"
        )
    lines += [
        "# HELP sapwood_gateway_replica_in_flight Requests sent to a replica and not answered.",
        "# TYPE sapwood_gateway_replica_in_flight gauge",
    ]
    for endpoint, count in sorted(metrics.outstanding.items()):
        team, service = metrics.replica_of[endpoint]
        labels = _labels(team=team, service=service, replica=endpoint)
        lines.append(f"sapwood_gateway_replica_in_flight{labels} {count}")
    lines += [
        "# HELP sapwood_gateway_held Requests waiting for a first ready replica.",
        "# TYPE sapwood_gateway_held gauge",
    ]
    for (team, service), m in sorted(metrics.services.items()):
        lines.append(f"sapwood_gateway_held{_labels(team=team, service=service)} {m.held}")
    return "\n".join(lines) + "\n"
