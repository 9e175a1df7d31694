"""Utilisation sampling, and the activity evidence idle pausing decides over.

Every ``interval_s`` the monitor asks the runtime what each running unit uses, sums it per
object over its replicas, and stores the sums (and what the object requested) as metric
series of the object (``sapwood.cpu_percent`` and friends, see docs/utilisation.md). The
same samples feed idle pausing: the monitor remembers, per object, since when it has
watched without a gap and when it last saw CPU or GPU use above the object's
``spec.idleThreshold`` (a changed threshold starts the watch afresh). It
also reads Jupyter's kernel and terminal activity of running Jupyter workspaces, and takes
the gateway's last request per service through ``last_requests`` (a hook the server wires).
Samples older than ``retention_s`` are swept away (observe/retention.py), training
metrics never.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.controller import store_io
from sapwood.server.controller.plan.idle import (
    UNKNOWN,
    IdleDecision,
    Signal,
    idle_decision,
    utilisation_active,
)
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.observe.retention import (
    SWEEP_BATCH,
    SWEEP_EVERY,
    delete_expired,
    feed_cutoffs,
    prune_feeds,
    retention_cutoff,
    sweep_due,
)
from sapwood.server.runtimes.base import Runtime, UnitKey, UnitPhase, UnitState, UnitUsage
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MetricRow
from sapwood.specs.objects import Service, Workspace
from sapwood.specs.workloads import IdleThreshold, WorkspaceTool

log = logging.getLogger("sapwood.utilisation")

Owner = tuple[str, str, str]  # (kind, team, name)
# The gateway's last request per (team, service name); None when it cannot say.
LastRequests = Callable[[], Mapping[tuple[str, str], datetime] | None]
# (workspace URL, token) -> (a kernel is busy now, the last kernel or terminal activity);
# raises when Jupyter cannot be read.
JupyterReader = Callable[[str, str], Awaitable[tuple[bool, datetime | None]]]

METRICS = (
    "sapwood.cpu_percent",
    "sapwood.memory_bytes",
    "sapwood.gpu_percent",
    "sapwood.gpu_memory_bytes",
    "sapwood.cpu_requested_percent",
    "sapwood.memory_requested_bytes",
    "sapwood.gpu_requested_percent",
)
DEFAULT_IDLE_THRESHOLD = IdleThreshold()


@dataclass(frozen=True)
class Totals:
    """One object's usage summed over its running replicas."""

    replicas: int
    cpu_percent: float
    memory_bytes: int
    gpu_percent: float | None
    gpu_memory_bytes: int | None


def sum_usage(usage: Mapping[UnitKey, UnitUsage]) -> dict[Owner, Totals]:
    """Per object: CPU and memory add up; GPU figures add up where known (None if none is)."""
    groups: dict[Owner, list[UnitUsage]] = defaultdict(list)
    for key, used in usage.items():
        groups[(key.kind, key.team, key.name)].append(used)
    out = {}
    for owner, items in groups.items():
        gpu = [u.gpu_percent for u in items if u.gpu_percent is not None]
        gpu_memory = [u.gpu_memory_bytes for u in items if u.gpu_memory_bytes is not None]
        out[owner] = Totals(
            replicas=len(items),
            cpu_percent=round(sum(u.cpu_percent for u in items), 2),
            memory_bytes=sum(u.memory_bytes for u in items),
            gpu_percent=round(sum(gpu), 2) if gpu else None,
            gpu_memory_bytes=sum(gpu_memory) if gpu_memory else None,
        )
    return out


def metric_values(view: ObjectView, totals: Totals) -> dict[str, float]:
    """The series values of one sample: used, and requested by the replicas running."""
    resources = view.obj.spec.resources
    values: dict[str, float] = {
        "sapwood.cpu_percent": totals.cpu_percent,
        "sapwood.memory_bytes": float(totals.memory_bytes),
        "sapwood.cpu_requested_percent": resources.cpu / 10 * totals.replicas,
        "sapwood.memory_requested_bytes": float(resources.memory * totals.replicas),
    }
    if totals.gpu_percent is not None:
        values["sapwood.gpu_percent"] = totals.gpu_percent
    if totals.gpu_memory_bytes is not None:
        values["sapwood.gpu_memory_bytes"] = float(totals.gpu_memory_bytes)
    if resources.gpu:
        values["sapwood.gpu_requested_percent"] = 100.0 * resources.gpu * totals.replicas
    return values


def idle_threshold_of(view: ObjectView) -> IdleThreshold:
    """The object's ``spec.idleThreshold``; the default for kinds that never idle."""
    if isinstance(view.obj, Workspace | Service):
        return view.obj.spec.idle_threshold
    return DEFAULT_IDLE_THRESHOLD


@dataclass
class _Watch:
    """What the samples showed of one object since they began without a gap, judged
    against ``threshold``."""

    since: datetime
    last_sample: datetime
    threshold: IdleThreshold
    last_busy: datetime | None = None


@dataclass(frozen=True)
class _JupyterReading:
    at: datetime
    last_active: datetime | None


async def read_jupyter_activity(url: str, token: str) -> tuple[bool, datetime | None]:
    """Whether a kernel is busy, and the last kernel or terminal activity (None: none yet).

    ``no_track_activity`` keeps these reads from counting as activity themselves. Raises
    httpx.HTTPError or ValueError when Jupyter cannot be read.
    """
    headers = {"Authorization": f"token {token}"}
    params = {"no_track_activity": "1"}
    latest: datetime | None = None
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=5.0) as http:
        for path in ("api/kernels", "api/terminals"):
            response = await http.get(path, params=params)
            if path == "api/terminals" and response.status_code == 404:
                continue  # terminals disabled
            response.raise_for_status()
            for item in response.json():
                if item.get("execution_state") == "busy":
                    return True, latest
                stamp = item.get("last_activity")
                if stamp:
                    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                    latest = moment if latest is None else max(latest, moment)
    return False, latest


class UtilisationMonitor:
    """Samples usage on its own task; `sample_once` and `idle` are public for the manager
    and tests. Holds evidence in memory: after a restart, idleness needs a full window."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        runtime: Runtime,
        clock: Clock,
        token_of: Callable[[ObjectView], str],
        interval_s: float = 15.0,
        jupyter: JupyterReader | None = None,
        retention_s: float = 7 * 86400.0,
        sweep_batch: int = SWEEP_BATCH,
    ) -> None:
        self.interval_s = interval_s
        self.retention_s = retention_s
        self.sweep_batch = sweep_batch
        # Hook for the gateway: set to a callable giving the last request per (team, name).
        self.last_requests: LastRequests | None = None
        self._sessions = sessions
        self._runtime = runtime
        self._clock = clock
        self._token_of = token_of
        self._jupyter = jupyter or read_jupyter_activity
        self._parsed: store_io.ParsedSpecs = {}
        self._watches: dict[Owner, _Watch] = {}
        self._jupyter_readings: dict[Owner, _JupyterReading] = {}
        self._started_at = clock.now()
        self._last_sweep: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        # The newest sample's values per object (for /metrics), by series name.
        self.latest: dict[Owner, dict[str, float]] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sapwood-utilisation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample_once()
            except Exception:  # the loop never dies
                log.exception("utilisation sample failed")
            try:
                await self.sweep_if_due()
            except Exception:
                log.exception("utilisation retention sweep failed")
            await asyncio.sleep(self.interval_s)

    async def sample_once(self) -> int:
        """One sample of every running unit, stored; returns how many objects it covered."""
        now = self._clock.now()
        usage = await self._runtime.usage()
        totals = sum_usage(usage)
        views = await store_io.load_views(self._sessions, self._parsed)
        by_owner = {(v.kind, v.team, v.name): v for v in views}
        rows = []
        latest: dict[Owner, dict[str, float]] = {}
        for owner, total in totals.items():
            view = by_owner.get(owner)
            if view is None:
                continue
            values = latest[owner] = metric_values(view, total)
            rows += [
                MetricRow(
                    uid=view.uid,
                    kind=view.kind,
                    team=view.team,
                    name=view.name,
                    metric=metric,
                    step=None,
                    value=value,
                    time=now,
                )
                for metric, value in values.items()
            ]
            self._watch(owner, total, now, threshold=idle_threshold_of(view))
        for owner in set(self._watches) - set(totals):  # not running: the evidence ends
            del self._watches[owner]
        self.latest = latest
        if rows:
            async with self._sessions() as session:
                session.add_all(rows)
                await session.commit()
        await self._read_jupyter([v for o, v in by_owner.items() if o in totals], now)
        return len({(r.kind, r.team, r.name) for r in rows})

    async def sweep_if_due(self) -> int | None:
        """Deletes samples older than ``retention_s``, and feeds' results past their own
        retention, when a sweep is due (the first call, then every 10 minutes); returns how
        many samples went, None when no sweep was due. A failed sweep is tried again at the
        next due time, not at once."""
        now = self._clock.now()
        if not sweep_due(self._last_sweep, now, every=SWEEP_EVERY):
            return None
        self._last_sweep = now
        cutoff = retention_cutoff(now, timedelta(seconds=self.retention_s))
        deleted = await delete_expired(self._sessions, METRICS, cutoff, batch=self.sweep_batch)
        if deleted:
            log.info("deleted %d utilisation samples taken before %s", deleted, cutoff)
        # Feeds prune on ingest too; this catches a feed that no longer receives records.
        views = await store_io.load_views(self._sessions, self._parsed)
        await prune_feeds(self._sessions, feed_cutoffs(views, now))
        return deleted

    def _watch(
        self, owner: Owner, total: Totals, now: datetime, *, threshold: IdleThreshold
    ) -> None:
        watch = self._watches.get(owner)
        gap = timedelta(seconds=4 * self.interval_s)
        # After a gap, or under a changed threshold (earlier samples were judged against
        # another one), the evidence starts afresh.
        if watch is None or now - watch.last_sample > gap or watch.threshold != threshold:
            watch = self._watches[owner] = _Watch(since=now, last_sample=now, threshold=threshold)
        watch.last_sample = now
        if utilisation_active(
            cpu_percent=total.cpu_percent, gpu_percent=total.gpu_percent, threshold=threshold
        ):
            watch.last_busy = now

    async def _read_jupyter(self, views: list[ObjectView], now: datetime) -> None:
        jupyter = [
            v
            for v in views
            if isinstance(v.obj, Workspace)
            and v.obj.spec.tool is WorkspaceTool.JUPYTER
            and v.status.get("url")
        ]
        live = {(v.kind, v.team, v.name) for v in jupyter}
        for owner in set(self._jupyter_readings) - live:
            del self._jupyter_readings[owner]

        async def read(view: ObjectView) -> None:
            owner = (view.kind, view.team, view.name)
            try:
                busy, last = await self._jupyter(str(view.status["url"]), self._token_of(view))
            except Exception as exc:
                log.debug("jupyter activity of %s unreadable: %s", view.name, exc)
                self._jupyter_readings.pop(owner, None)
                return
            self._jupyter_readings[owner] = _JupyterReading(now, now if busy else last)

        await asyncio.gather(*(read(v) for v in jupyter))

    def signals(self, view: ObjectView, *, now: datetime) -> dict[str, Signal]:
        """What each activity source that applies to this object knows now."""
        owner = (view.kind, view.team, view.name)
        stale = timedelta(seconds=4 * self.interval_s)
        out: dict[str, Signal] = {}
        watch = self._watches.get(owner)
        if watch is None or now - watch.last_sample > stale:
            out["utilisation"] = UNKNOWN
        else:
            out["utilisation"] = Signal(watch.since, watch.last_busy)
        if isinstance(view.obj, Workspace) and view.obj.spec.tool is WorkspaceTool.JUPYTER:
            reading = self._jupyter_readings.get(owner)
            running_since = _running_since(view)
            if reading is None or now - reading.at > stale or running_since is None:
                out["kernels"] = UNKNOWN
            else:
                out["kernels"] = Signal(running_since, reading.last_active)
        if isinstance(view.obj, Service):
            requests = self.last_requests() if self.last_requests is not None else None
            if requests is None:
                out["requests"] = UNKNOWN
            else:
                out["requests"] = Signal(self._started_at, requests.get((view.team, view.name)))
        return out

    def idle(
        self, view: ObjectView, units: Mapping[int, UnitState], *, now: datetime
    ) -> IdleDecision | None:
        """The idle decision for a running workspace or service; None for other kinds."""
        if not isinstance(view.obj, Workspace | Service) or view.phase != "Running":
            return None
        starts = [u.started_at for u in units.values() if u.phase is UnitPhase.RUNNING]
        return idle_decision(
            idle_timeout=view.obj.spec.idle_timeout,
            running_since=max(starts) if starts else None,
            signals=self.signals(view, now=now),
            now=now,
        )


def _running_since(view: ObjectView) -> datetime | None:
    since = view.status.get("phaseSince")
    return datetime.fromisoformat(since) if since and view.phase == "Running" else None
