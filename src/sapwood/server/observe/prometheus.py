"""What ``/metrics`` tells Prometheus: objects, queues, preemptions, restarts, controller passes.

Collected at scrape time: two short queries (objects, and preemption events per team) and
the controller's record of recent pass durations. Every app has its own registry, never
prometheus_client's global one, so two apps in one process do not mix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from sapwood.schemas.feeds import FeedFigures
from sapwood.schemas.status import Phase, Reason
from sapwood.server.controller.port import ControllerPort
from sapwood.server.ingest.figures import metric_families as feed_metric_families
from sapwood.server.services.access import Caller, readable_teams
from sapwood.server.services.feed_results import figures_by_feed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import EventRow, ObjectRow

PASS_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class ObjectFacts:
    kind: str
    team: str
    name: str
    phase: Phase
    restarts: int
    waiting_since: datetime | None  # set while it waits for admission


@dataclass(frozen=True)
class Snapshot:
    """What the store held at one scrape, for the teams the scraper may read."""

    now: datetime
    objects: Sequence[ObjectFacts] = ()
    preemptions: Mapping[str, int] = field(default_factory=dict)  # per team
    controller_passes: int | None = None  # None: no controller in this server
    # The newest utilisation sample per (kind, team, name): series name -> value.
    usage: Mapping[tuple[str, str, str], Mapping[str, float]] = field(default_factory=dict)
    feeds: Mapping[tuple[str, str], FeedFigures] = field(default_factory=dict)  # (team, name)


# Utilisation series (see observe/utilisation.py) and their Prometheus names and help.
USAGE_FAMILIES = (
    ("sapwood.cpu_percent", "sapwood_workload_cpu_percent", "CPU used, 100 = one core"),
    ("sapwood.memory_bytes", "sapwood_workload_memory_bytes", "Resident memory used"),
    ("sapwood.gpu_percent", "sapwood_workload_gpu_percent", "GPU used, 100 = one GPU"),
    ("sapwood.gpu_memory_bytes", "sapwood_workload_gpu_memory_bytes", "GPU memory used"),
    (
        "sapwood.cpu_requested_percent",
        "sapwood_workload_cpu_requested_percent",
        "CPU requested by the running replicas, 100 = one core",
    ),
    (
        "sapwood.memory_requested_bytes",
        "sapwood_workload_memory_requested_bytes",
        "Memory requested by the running replicas",
    ),
    (
        "sapwood.gpu_requested_percent",
        "sapwood_workload_gpu_requested_percent",
        "GPUs requested by the running replicas, 100 = one GPU",
    ),
)


def families(snapshot: Snapshot) -> list[Metric]:
    """The metric families of a snapshot; pure."""
    objects = GaugeMetricFamily(
        "sapwood_objects", "Objects by kind, team and phase", labels=["kind", "team", "phase"]
    )
    for (kind, team, phase), count in sorted(
        Counter((o.kind, o.team, o.phase) for o in snapshot.objects).items()
    ):
        objects.add_metric([kind, team, phase], count)

    queue = GaugeMetricFamily(
        "sapwood_queue_length", "Objects waiting for admission, per team", labels=["team"]
    )
    oldest = GaugeMetricFamily(
        "sapwood_queue_oldest_wait_seconds",
        "How long the longest-waiting object of the team has waited; 0 when none waits",
        labels=["team"],
    )
    for team in sorted({o.team for o in snapshot.objects}):
        since = [o.waiting_since for o in snapshot.objects if o.team == team and o.waiting_since]
        queue.add_metric([team], len(since))
        wait = (snapshot.now - min(since)).total_seconds() if since else 0.0
        oldest.add_metric([team], max(wait, 0.0))

    preemptions = CounterMetricFamily(
        "sapwood_preemptions", "Workloads preempted to make room, per team", labels=["team"]
    )
    for team, count in sorted(snapshot.preemptions.items()):
        preemptions.add_metric([team], count)

    restarts = GaugeMetricFamily(
        "sapwood_workload_restarts",
        "Replica restarts of each object since it was created",
        labels=["kind", "team", "name"],
    )
    for o in sorted(snapshot.objects, key=lambda o: (o.kind, o.team, o.name)):
        restarts.add_metric([o.kind, o.team, o.name], o.restarts)

    out: list[Metric] = [objects, queue, oldest, preemptions, restarts]
    for series, metric_name, help_text in USAGE_FAMILIES:
        family = GaugeMetricFamily(
            metric_name, f"{help_text}, summed over replicas", labels=["team", "kind", "name"]
        )
        for (kind, team, name), values in sorted(snapshot.usage.items()):
            if series in values:
                family.add_metric([team, kind, name], values[series])
        out.append(family)
    out += feed_metric_families(snapshot.feeds)
    if snapshot.controller_passes is not None:
        passes = CounterMetricFamily("sapwood_controller_passes", "Controller passes started")
        passes.add_metric([], snapshot.controller_passes)
        out.append(passes)
    return out


def facts_of(
    kind: str,
    team: str,
    name: str,
    status: Mapping[str, object],
    *,
    created_at: datetime,
    deleting: bool,
) -> ObjectFacts:
    """One object's facts from its stored row; pure."""
    phase = Phase.TERMINATING if deleting else Phase.of(status.get("phase"))
    waiting_since = None
    if phase is Phase.PENDING:
        since = status.get("phaseSince")
        waiting_since = datetime.fromisoformat(since) if isinstance(since, str) else created_at
    restarts = status.get("restarts")
    return ObjectFacts(
        kind=kind,
        team=team,
        name=name,
        phase=phase,
        restarts=restarts if isinstance(restarts, int) else 0,
        waiting_since=waiting_since,
    )


async def load_snapshot(
    session: AsyncSession, caller: Caller, *, now: datetime, controller_passes: int | None
) -> Snapshot:
    """Two queries; a caller who is not an admin sees only the teams it reads."""
    teams = readable_teams(caller)
    objects = select(
        ObjectRow.kind,
        ObjectRow.team,
        ObjectRow.name,
        ObjectRow.status,
        ObjectRow.created_at,
        ObjectRow.deletion_timestamp,
    )
    preempted = (
        select(EventRow.team, func.count())
        .where(EventRow.reason == Reason.PREEMPTED.value)
        .group_by(EventRow.team)
    )
    if teams is not None:
        objects = objects.where(ObjectRow.team.in_(teams))
        preempted = preempted.where(EventRow.team.in_(teams))
    facts = [
        facts_of(
            r.kind,
            r.team,
            r.name,
            r.status,
            created_at=r.created_at,
            deleting=r.deletion_timestamp is not None,
        )
        for r in await session.execute(objects)
    ]
    counts = {str(team): int(count) for team, count in await session.execute(preempted)}
    return Snapshot(now=now, objects=facts, preemptions=counts, controller_passes=controller_passes)


class UsageFigures(Protocol):
    """The newest utilisation sample per (kind, team, name): the utilisation monitor."""

    @property
    def latest(self) -> Mapping[tuple[str, str, str], Mapping[str, float]]: ...


class _SnapshotCollector:
    """Yields the families of the snapshot last handed to it."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterable[Metric]:
        return families(self.snapshot) if self.snapshot is not None else []


class PassDurations:
    """Feeds a cumulative histogram from the controller's window of recent pass durations.

    The manager keeps the last few hundred durations and a count of all it has timed;
    each scrape observes the ones timed since the previous scrape. When more passes than
    the window holds ran between two scrapes, the oldest of them are not counted.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._histogram = Histogram(
            "sapwood_controller_pass_duration_seconds",
            "How long controller passes took",
            buckets=PASS_BUCKETS_S,
            registry=registry,
        )
        self._seen = 0

    def update(self, durations: Sequence[float], timed: int) -> None:
        """``durations``: the most recent ones; ``timed``: how many were ever recorded."""
        new = max(0, timed - self._seen)
        for duration in list(durations)[len(durations) - min(new, len(durations)) :]:
            self._histogram.observe(duration)
        self._seen = timed


class PrometheusExporter:
    """One per app: its registry, and a scrape that renders the text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._collector = _SnapshotCollector()
        self.registry.register(self._collector)
        self._passes = PassDurations(self.registry)

    async def scrape(
        self,
        session: AsyncSession,
        caller: Caller,
        controller: ControllerPort | None,
        *,
        now: datetime,
        usage: UsageFigures | None = None,
    ) -> bytes:
        """The exposition in Prometheus's text format, collected now."""
        figures = controller.figures() if controller is not None else None
        passes = figures.passes if figures is not None else None
        snapshot = await load_snapshot(session, caller, now=now, controller_passes=passes)
        snapshot = replace(snapshot, feeds=await figures_by_feed(session, caller, now=now))
        if usage is not None:
            teams = readable_teams(caller)
            latest = {
                owner: values
                for owner, values in usage.latest.items()
                if teams is None or owner[1] in teams
            }
            snapshot = replace(snapshot, usage=latest)
        # No await from here on: this scrape renders the snapshot it loaded.
        self._collector.snapshot = snapshot
        if figures is not None:
            self._passes.update(figures.pass_durations_s, figures.passes_timed)
        return generate_latest(self.registry)
