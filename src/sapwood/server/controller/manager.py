"""The controller: one level-triggered loop over every object, started by the lifespan.

Each pass loads every object (short session), observes the runtime, decides admission
and one plan per object (pure), acts on the runtime with no session open, then writes
statuses guarded by resourceVersion. A wake-up only makes the next pass come sooner.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.controller import admission, scaling, scheduler, store_io
from sapwood.server.controller.feeds import FeedInputs, load_feed_inputs, plan_feed
from sapwood.server.controller.jobs import plan_job
from sapwood.server.controller.model import EventNote, ObjectView, Plan
from sapwood.server.controller.probes import Prober, Target
from sapwood.server.controller.services import Health, plan_service, plan_workspace
from sapwood.server.controller.units import UnitContext
from sapwood.server.controller.utilisation import UtilisationMonitor
from sapwood.server.runtimes.base import (
    Runtime,
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitSpec,
    UnitState,
)
from sapwood.server.secrets import WORKLOADS_USER, NewToken, workload_token
from sapwood.server.store.engine import AsyncSession
from sapwood.specs.objects import Service

log = logging.getLogger("sapwood.controller")
PROBE_TICK_S = 0.25
Owner = tuple[str, str, str]  # (kind, team, name)


@dataclass(frozen=True)
class ControllerConfig:
    api_url: str
    server_key: bytes
    resync_s: float = 10.0
    busy_interval_s: float = 0.2  # the next pass after one that changed something
    slow_pass_s: float = 1.0
    start_concurrency: int = 8
    priorities: Mapping[str, int] = field(default_factory=dict)
    policy: scheduler.Policy = field(default_factory=scheduler.Policy)
    utilisation_interval_s: float = 15.0
    utilisation_retention_s: float = 7 * 86400.0  # utilisation samples older than this go
    load_source: scaling.LoadSource | None = None  # the gateway's figures, for autoscaling
    runs_images: bool = False  # the runtime runs containers (Kubernetes), not host processes


class ControllerManager:
    """Owns the runtime's lifecycle for the server; never stops workloads on shutdown."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        runtime: Runtime,
        clock: Clock,
        config: ControllerConfig,
    ) -> None:
        self.runtime = runtime
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping: dict[UnitKey, asyncio.Task[None]] = {}
        self._failed_starts: dict[UnitKey, UnitState] = {}
        # Derived tokens by object uid; the ids of those known stored and enabled.
        self._tokens: dict[str, NewToken] = {}
        self._tokens_stored: set[str] = set()
        self._parsed: store_io.ParsedSpecs = {}
        self.load_source = config.load_source
        self.last_loads: scaling.Loads | None = None  # the gateway's, from the last pass
        self._prober = Prober(clock, on_change=lambda: self.wake("Service"))
        self.pass_durations_s: deque[float] = deque(maxlen=256)  # the most recent
        self.passes = 0  # started
        self.passes_timed = 0  # finished, their durations appended above
        self.utilisation = UtilisationMonitor(
            sessions=sessions,
            runtime=runtime,
            clock=clock,
            token_of=lambda view: self._token(view).token,
            interval_s=config.utilisation_interval_s,
            retention_s=config.utilisation_retention_s,
        )
        self.utilisation.last_requests = lambda: scaling.last_requests(self.last_loads)

    # lifecycle

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sapwood-controller")
        await self.utilisation.start()

    async def stop(self) -> None:
        await self.utilisation.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._prober.close()
        for task in self._stopping.values():
            task.cancel()
        await asyncio.gather(*self._stopping.values(), return_exceptions=True)
        await self.runtime.close()

    def wake(self, kind: str = "") -> None:
        """Asks for a pass soon. Carries no meaning: the pass looks at everything."""
        self._wake.set()

    def logs(
        self, kind: str, team: str, name: str, *, replica: int, follow: bool, previous: bool
    ) -> AsyncIterator[bytes]:
        """One replica's output, straight from the runtime."""
        key = UnitKey(kind, team, name, replica)
        return self.runtime.logs(key, follow=follow, previous=previous)

    async def _run(self) -> None:
        interval = self._config.busy_interval_s
        while True:
            self._wake.clear()
            started = time.monotonic()
            busy = False
            try:
                busy = await self.run_pass()
            except Exception:  # the loop never dies; the next pass starts afresh
                log.exception("controller pass failed")
            took = time.monotonic() - started
            self.pass_durations_s.append(took)
            self.passes_timed += 1
            if took > self._config.slow_pass_s:
                log.warning("slow controller pass: %.2fs", took)
            # Back off while idle, with jitter so replicas of the server do not align.
            interval = (
                self._config.busy_interval_s
                if busy
                else min(interval * 2, self._config.resync_s) * random.uniform(0.8, 1.0)
            )
            await self._idle(started + interval)

    async def _idle(self, until: float) -> None:
        """Waits for a wake-up or the deadline, running due probes meanwhile."""
        while not self._wake.is_set():
            self._prober.tick()
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(remaining, PROBE_TICK_S))
            except TimeoutError:
                pass

    # one pass

    async def run_pass(self) -> bool:
        """One full reconcile; returns whether anything was done. Public for tests."""
        self.passes += 1
        now = self._clock.now()
        views = await store_io.load_views(self._sessions, self._parsed)
        live_uids = {v.uid for v in views}
        for uid in set(self._tokens) - live_uids:  # objects gone: forget their tokens
            del self._tokens[uid]
        units = await self._observe()
        capacity = await self.runtime.capacity()
        by_owner: dict[Owner, dict[int, UnitState]] = defaultdict(dict)
        for unit in units:
            by_owner[(unit.key.kind, unit.key.team, unit.key.name)][unit.key.replica] = unit
        await self._ensure_running_tokens(views, by_owner)

        scale_notes: dict[str, EventNote] = {}
        if any(scaling.wants_load(v) for v in views):
            self.last_loads = await self._loads()
            views = scaling.wake_held(views, self.last_loads)
            views, scale_notes = scaling.scale(views, self.last_loads, capacity, now=now)
        inputs = admission.Inputs(
            capacity=capacity,
            quotas=await store_io.load_quotas(self._sessions),
            priorities=self._config.priorities,
            policy=self._config.policy,
        )
        admissions = admission.decide(views, by_owner, inputs=inputs, now=now)
        self._update_probes(views, by_owner)
        health = self._prober.health()
        feed_inputs = await load_feed_inputs(self._sessions, [v for v in views if v.kind == "Feed"])
        results: list[tuple[ObjectView, Plan]] = []
        for view in views:
            owned = by_owner.pop((view.kind, view.team, view.name), {})
            admitted = admissions.get(view.uid)
            # Plan against the admitted status, but write guarded by the stored one.
            planned = replace(view, status=admitted.status) if admitted else view
            try:
                plan = self._plan(
                    planned, owned, now=now, health=health, feed=feed_inputs.get(view.uid)
                )
            except Exception:
                log.exception("planning %s/%s/%s failed", view.kind, view.team, view.name)
                continue
            if admitted is not None:
                plan.status = plan.status if plan.status is not None else admitted.status
                plan.events[:0] = admitted.notes
            if view.uid in scale_notes:
                plan.events.insert(0, scale_notes[view.uid])
            enforced = sorted({u.limits_enforced_by for u in owned.values()} - {""})
            # How its replicas are kept apart from other teams' (local runtime only).
            isolated = sorted({u.isolated_by for u in owned.values()} - {""})
            enforced += [f"isolation {how}" for how in isolated]
            if plan.status is not None and enforced:
                plan.status["limits"] = ", ".join(enforced)
            results.append((view, plan))
        orphans = [u for owned in by_owner.values() for u in owned.values()]

        await self._act(results, orphans)
        outcome = await store_io.apply_plans(self._sessions, results, now=now)
        return bool(outcome.written or orphans or any(not p.empty for _, p in results))

    async def _loads(self) -> scaling.Loads | None:
        if self.load_source is None:
            return None
        try:
            return await self.load_source()
        except Exception as exc:  # unknown load holds the last decision
            log.warning("gateway load figures unavailable: %s", exc)
            return None

    def _plan(
        self,
        view: ObjectView,
        units: dict[int, UnitState],
        *,
        now: datetime,
        health: Mapping[UnitKey, Health],
        feed: FeedInputs | None = None,
    ) -> Plan:
        context = self._unit_context(view)
        if view.kind == "Job":
            return plan_job(view, units, now=now, context=context)
        if view.kind == "Feed":
            return plan_feed(view, units, now=now, context=context, inputs=feed or FeedInputs())
        idle = self.utilisation.idle(view, units, now=now)
        if view.kind == "Service":
            return plan_service(view, units, now=now, context=context, health=health, idle=idle)
        return plan_workspace(view, units, now=now, context=context, idle=idle)

    def _unit_context(self, view: ObjectView) -> UnitContext:
        return UnitContext(
            api_url=self._config.api_url,
            token=self._token(view).token,
            runs_images=self._config.runs_images,
        )

    def _token(self, view: ObjectView) -> NewToken:
        token = self._tokens.get(view.uid)
        if token is None:
            token = self._tokens[view.uid] = workload_token(self._config.server_key, view.uid)
        return token

    async def _observe(self) -> list[UnitState]:
        units = {u.key: u for u in await self.runtime.observe()}
        for key, failure in list(self._failed_starts.items()):
            if key in units:
                del self._failed_starts[key]
            else:
                units[key] = failure
        return list(units.values())

    def _update_probes(
        self, views: list[ObjectView], by_owner: dict[Owner, dict[int, UnitState]]
    ) -> None:
        targets = []
        mono, now = self._clock.monotonic(), self._clock.now()
        for view in views:
            if not isinstance(view.obj, Service):
                continue
            spec = view.obj.spec
            readiness = spec.readiness_probe()
            if readiness is None and spec.liveness is None:
                continue
            for unit in by_owner.get((view.kind, view.team, view.name), {}).values():
                if unit.phase is UnitPhase.RUNNING:
                    age = (now - unit.started_at).total_seconds()
                    targets.append(
                        Target(
                            unit.key,
                            unit.started_at.isoformat(),
                            unit.port,
                            mono - age,
                            readiness,
                            spec.liveness,
                            unit.host,
                        )
                    )
        self._prober.update(targets)

    # acting on the runtime (no session open)

    async def _act(self, results: list[tuple[ObjectView, Plan]], orphans: list[UnitState]) -> None:
        for unit in orphans:
            log.info("stopping %s: its object is gone", unit.key.slug())
            if unit.phase is UnitPhase.RUNNING:
                self._stop_in_background(unit.key, None)
            else:
                await self._forget(unit.key)
        gate = asyncio.Semaphore(self._config.start_concurrency)
        starts = []
        for view, plan in results:
            grace_s = view.obj.spec.termination_grace_period.total_seconds()
            for key in plan.stops:
                self._stop_in_background(key, grace_s)
            for key in plan.forgets:
                await self._forget(key)
            if not plan.starts:
                continue
            try:
                await self._ensure_token(view, run_begins=True)
            except Exception:  # one object's trouble must not stall the others
                log.exception("cannot issue the workload token of %s/%s", view.kind, view.name)
                plan.starts = []
                continue
            starts += [self._start(plan, spec, gate) for spec in plan.starts]
        await asyncio.gather(*starts)

    async def _start(self, plan: Plan, unit: UnitSpec, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                state = await self.runtime.start(unit)
            except RuntimePermanentError as exc:
                now = self._clock.now()
                log.warning("cannot start %s: %s", unit.key.slug(), exc)
                self._failed_starts[unit.key] = UnitState(
                    unit.key,
                    UnitPhase.EXITED,
                    None,
                    now,
                    unit.generation,
                    None,
                    exit_code=127,
                    reason=exc.reason,
                    finished_at=now,
                    message=str(exc),  # what is missing and where it was looked for
                )
                self.wake()  # the next pass accounts for the failure like any exit
                return
            except RuntimeTemporaryError as exc:
                plan.event("StartDelayed", f"replica {unit.key.replica}: {exc}", warning=True)
                return
        port = f", port {state.port}" if state.port else ""
        plan.event("Started", f"replica {unit.key.replica} started (pid {state.pid}{port})")

    async def _ensure_running_tokens(
        self, views: list[ObjectView], by_owner: Mapping[Owner, Mapping[int, UnitState]]
    ) -> None:
        """Every object with a running unit has its token stored and enabled: the units a
        restarted server adopts keep working (a no-op once this server has stored it)."""
        for view in views:
            units = by_owner.get((view.kind, view.team, view.name), {})
            running = any(u.phase is UnitPhase.RUNNING for u in units.values())
            ended = view.deletion_timestamp is not None or store_io.run_ended(
                view.kind, view.status
            )
            if not running or ended:
                continue
            try:
                await self._ensure_token(view)
            except Exception:  # one object's trouble must not stall the others
                log.exception("cannot issue the workload token of %s/%s", view.kind, view.name)

    async def _ensure_token(self, view: ObjectView, *, run_begins: bool = False) -> None:
        """Stores the token; when a run begins, always (its last run's end revoked it)."""
        token = self._token(view)
        if token.id in self._tokens_stored and not run_begins:
            return
        await store_io.ensure_workload_token(
            self._sessions,
            token_id=token.id,
            secret_hash=token.secret_hash,
            user=WORKLOADS_USER,
            scope=store_io.scope_of(view),
            now=self._clock.now(),
        )
        self._tokens_stored.add(token.id)

    def _stop_in_background(self, key: UnitKey, grace_s: float | None) -> None:
        # A stop waits out the grace period; the pass must not.
        if key in self._stopping:
            return

        async def stop() -> None:
            try:
                await self.runtime.stop(key, grace_period_s=grace_s)
            except Exception:
                log.exception("stopping %s failed", key.slug())
            finally:
                self._stopping.pop(key, None)
                self.wake()

        self._stopping[key] = asyncio.create_task(stop())

    async def _forget(self, key: UnitKey) -> None:
        if self._failed_starts.pop(key, None) is not None:
            return
        try:
            await self.runtime.forget(key)
        except RuntimeTemporaryError:
            pass  # still running after all: the next pass sees it
