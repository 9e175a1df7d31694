"""Utilisation sampling, and the activity evidence idle pausing decides over.

Every ``interval_s`` the monitor asks the runtime what each running unit uses, sums it per
object over its replicas, and stores the sums (and what the object requested) as metric
series of the object (``sapwood.cpu_percent`` and friends, see docs/utilisation.md). The
same samples feed idle pausing: the monitor remembers, per object, since when it has
watched without a gap and when it last saw CPU or GPU use above the object's
``spec.idleThreshold`` (a changed threshold starts the watch afresh). It also reads
Jupyter's kernel and terminal activity of running Jupyter workspaces, and takes the
gateway's last request per service from ``last_requests``. Samples older than
``retention_s`` are swept away (observe/retention.py), training metrics never.

The app builds it, runs it beside the controller while this replica leads, and hands it to
the controller as its idle source (``controller.plan.idle.IdleSource``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas.status import Phase
from sapwood.server.clock import Clock
from sapwood.server.controller.cache import Parsed
from sapwood.server.controller.plan.idle import (
    UNKNOWN,
    IdleDecision,
    Signal,
    idle_decision,
    utilisation_active,
)
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.loop import Loop
from sapwood.server.observe.jupyter import JupyterReader, read_jupyter_activity
from sapwood.server.observe.objects import live_feeds, views_of
from sapwood.server.observe.retention import (
    SWEEP_BATCH,
    SWEEP_EVERY,
    delete_expired,
    feed_cutoffs,
    prune_feeds,
    retention_cutoff,
    sweep_due,
)
from sapwood.server.observe.usage import (
    METRICS,
    Owner,
    Totals,
    idle_threshold_of,
    metric_values,
    sum_usage,
)
from sapwood.server.runtimes.base import Runtime
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MetricRow
from sapwood.server.units import UnitPhase, UnitState
from sapwood.specs.objects import Service, Workspace
from sapwood.specs.workloads import IdleThreshold, WorkspaceTool

log = logging.getLogger("sapwood.utilisation")

# The gateway's last request per (team, service name); None when it cannot say.
LastRequests = Callable[[], Mapping[tuple[str, str], datetime] | None]


def _unknown_requests() -> None:
    return None


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


class UtilisationMonitor(Loop):
    """Samples usage every ``interval_s`` (then sweeps, when a sweep is due) and answers
    ``idle`` for the controller. Holds its evidence in memory: after a restart, idleness
    needs a full window."""

    name = "utilisation"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        runtime: Runtime,
        clock: Clock,
        token_of: Callable[[ObjectView], str],
        last_requests: LastRequests = _unknown_requests,
        interval_s: float = 15.0,
        jupyter: JupyterReader = read_jupyter_activity,
        retention_s: float = 7 * 86400.0,
        sweep_batch: int = SWEEP_BATCH,
    ) -> None:
        super().__init__(clock=clock, interval_s=interval_s)
        self.retention_s = retention_s
        self.sweep_batch = sweep_batch
        self._last_requests = last_requests
        self._sessions = sessions
        self._runtime = runtime
        self._token_of = token_of
        self._jupyter = jupyter
        self._parsed: Parsed = {}
        self._watches: dict[Owner, _Watch] = {}
        self._jupyter_readings: dict[Owner, _JupyterReading] = {}
        self._started_at = clock.now()
        self._last_sweep: datetime | None = None
        # The newest sample's values per object (for /metrics), by series name.
        self.latest: dict[Owner, dict[str, float]] = {}

    async def tick(self) -> None:
        """One sample, then a retention sweep when one is due (even after a failed sample)."""
        try:
            await self._sample()
        except Exception:
            log.exception("utilisation sample failed")
        await self._sweep_if_due()

    async def _sample(self) -> None:
        """One sample of every running unit, stored."""
        now = self.clock.now()
        totals = sum_usage(await self._runtime.usage())
        # Only the objects that run are read: an idle server with many waiting objects
        # pays nothing here.
        by_owner = await views_of(self._sessions, totals, self._parsed) if totals else {}
        rows: list[MetricRow] = []
        latest: dict[Owner, dict[str, float]] = {}
        for owner, view in by_owner.items():
            values = latest[owner] = metric_values(view, totals[owner])
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
            self._watch(owner, totals[owner], now, threshold=idle_threshold_of(view))
        for owner in set(self._watches) - set(totals):  # not running: the evidence ends
            del self._watches[owner]
        self.latest = latest
        if rows:
            async with self._sessions() as session:
                session.add_all(rows)
                await session.commit()
        await self._read_jupyter(list(by_owner.values()), now)

    async def _sweep_if_due(self) -> None:
        """Deletes samples older than ``retention_s``, and feeds' results past their own
        retention, when a sweep is due (the first round, then every 10 minutes). A failed
        sweep is tried again at the next due time, not at once."""
        now = self.clock.now()
        if not sweep_due(self._last_sweep, now, every=SWEEP_EVERY):
            return
        self._last_sweep = now
        cutoff = retention_cutoff(now, timedelta(seconds=self.retention_s))
        deleted = await delete_expired(self._sessions, METRICS, cutoff, batch=self.sweep_batch)
        if deleted:
            log.info("deleted %d utilisation samples taken before %s", deleted, cutoff)
        # Feeds prune on ingest too; this catches a feed that no longer receives records.
        feeds = await live_feeds(self._sessions, self._parsed)
        await prune_feeds(self._sessions, feed_cutoffs(feeds, now))

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
            requests = self._last_requests()
            if requests is None:
                out["requests"] = UNKNOWN
            else:
                out["requests"] = Signal(self._started_at, requests.get((view.team, view.name)))
        return out

    def idle(
        self, view: ObjectView, units: Mapping[int, UnitState], *, now: datetime
    ) -> IdleDecision | None:
        """The idle decision for a running workspace or service; None for other kinds."""
        if not isinstance(view.obj, Workspace | Service) or view.phase != Phase.RUNNING:
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
    return datetime.fromisoformat(since) if since and view.phase == Phase.RUNNING else None
