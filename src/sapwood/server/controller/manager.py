"""The controller: an informer-style loop whose work follows changes, not objects.

The objects live in a cache (``cache.ObjectCache``) loaded once and kept current from
change notifications (``store.changes``), with a slow full resync as the safety net. Each
round plans only the objects that are dirty: changed in the store, whose units changed in
the runtime, whose timer came due (backoff, deadlines, idle windows: every running object
is looked at again after ``recheck_s``), or whose plan did something last round. The
scheduler runs only when its inputs change: something new or changed, a unit that started
or ended, capacity, quotas. Objects that only wait cost nothing while nothing changes.

A round observes the runtime, decides (pure, in ``plan/``), acts on the runtime with no
session open, then writes statuses guarded by resourceVersion and records them in the
cache. A status write that lost a race reloads that object next round.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.controller import store_io
from sapwood.server.controller.acting import Actor
from sapwood.server.controller.cache import ObjectCache, Owner
from sapwood.server.controller.feed_inputs import load_feed_inputs
from sapwood.server.controller.plan import admission, scaling, scheduler
from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.idle import IdleSource
from sapwood.server.controller.plan.kinds import plan_object, policy_for, run_ended
from sapwood.server.controller.plan.lifecycle import HOLDING
from sapwood.server.controller.plan.policy import FeedInputs, PlanInputs
from sapwood.server.controller.plan.units import UnitContext
from sapwood.server.controller.plan.view import EventNote, ObjectView, Plan
from sapwood.server.controller.port import ControllerFigures
from sapwood.server.controller.probes import ProbeLoop, Prober, probe_targets
from sapwood.server.controller.timers import TimerQueue
from sapwood.server.controller.tokens import WorkloadTokens
from sapwood.server.loop import Loop
from sapwood.server.runtimes.base import (
    Capacity,
    Runtime,
    UnitKey,
    UnitPhase,
    UnitState,
)
from sapwood.server.settings import ControllerSettings
from sapwood.server.store.changes import ChangeFeed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.leases import LeaseFence
from sapwood.specs.objects import KINDS

log = logging.getLogger("sapwood.controller")
QUOTA = "quota"  # wake("quota"): quotas changed, the scheduler runs again


@dataclass(frozen=True)
class ControllerConfig:
    """What the app wires into the controller besides its settings."""

    api_url: str
    server_key: bytes
    settings: ControllerSettings = field(default_factory=ControllerSettings)
    start_concurrency: int = 8
    priorities: Mapping[str, int] = field(default_factory=dict)
    policy: scheduler.Policy = field(default_factory=scheduler.Policy)
    load_source: scaling.LoadSource | None = None  # the gateway's figures, for autoscaling
    runs_images: bool = False  # the runtime runs containers (Kubernetes), not host processes
    fence: LeaseFence | None = None  # the leader's term: status writes stop when it ends


class ControllerManager(Loop):
    """Owns the runtime's lifecycle for the server; never stops workloads on shutdown."""

    name = "controller"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        runtime: Runtime,
        clock: Clock,
        config: ControllerConfig,
        changes: ChangeFeed | None = None,
        idle: IdleSource | None = None,
    ) -> None:
        self._settings = config.settings
        super().__init__(clock=clock, interval_s=self._settings.resync_s)
        self.runtime = runtime
        self._sessions = sessions
        self._config = config
        self._idle_source = idle
        self._cache = ObjectCache(sessions)
        self._notified: set[str] = set()  # uids a change notification named, not yet loaded
        self._woken: set[str] = set()  # kinds whose objects changed outside their rows
        self._dirty: set[str] = set()  # uids to plan next round
        self._timers = TimerQueue()
        self._units: dict[Owner, dict[int, UnitState]] = {}
        self._capacity: Capacity | None = None
        self._schedule = True  # the scheduler's inputs changed since it last ran
        # Waiting objects that fit nowhere at the current capacity: left out of cycles
        # until capacity changes or they do. And waiting objects' workloads, converted once.
        self._parked: set[str] = set()
        self._quotas: dict[str, scheduler.Quota] | None = None
        self._workloads: admission.Memo = {}
        self._next_resync = 0.0
        self._tokens = WorkloadTokens(sessions, clock, config.server_key, fence=config.fence)
        self._actor = Actor(
            runtime,
            clock,
            self._tokens,
            start_concurrency=config.start_concurrency,
            wake=self.wake,
        )
        self.load_source = config.load_source
        self.last_loads: scaling.Loads | None = None  # the gateway's, from the last round
        self._prober = Prober(clock, on_change=lambda: self.wake("Service"))
        self._probes = ProbeLoop(self._prober, clock)
        self.pass_durations_s: deque[float] = deque(maxlen=256)  # the most recent
        self.passes = 0  # started
        self.passes_timed = 0  # finished, their durations appended above
        self.planned = 0  # objects planned, over all rounds
        self._unsubscribe = changes.subscribe(self._changed) if changes is not None else None

    # lifecycle

    async def start(self) -> None:
        await super().start()
        await self._probes.start()

    async def on_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self._probes.stop()
        await self._actor.close()

    def wake(self, kind: str = "") -> None:
        """Asks for a round now. ``kind`` names what changed outside the objects' rows:
        the objects of that kind are planned again (a feed's records, a model alias under
        services), or "quota" runs the scheduler. Rows themselves arrive as notifications."""
        if kind:
            self._woken.add(kind)
        super().wake()

    def resync_soon(self) -> None:
        """Compares the whole store with the cache next round (notifications were lost)."""
        self._next_resync = 0.0
        super().wake()

    def _changed(self, uids: frozenset[str]) -> None:
        self._notified |= uids
        super().wake()

    def logs(
        self, kind: str, team: str, name: str, *, replica: int, follow: bool, previous: bool
    ) -> AsyncIterator[bytes]:
        """One replica's output, straight from the runtime."""
        key = UnitKey(kind, team, name, replica)
        return self.runtime.logs(key, follow=follow, previous=previous)

    # one round

    async def tick(self) -> float | None:
        started = time.monotonic()
        self.passes += 1
        busy = False
        try:
            busy = await self._round()
        finally:
            took = time.monotonic() - started
            self.pass_durations_s.append(took)
            self.passes_timed += 1
            if took > self._settings.slow_pass_s:
                log.warning("slow controller round: %.2fs", took)
        return self._next_delay(busy)

    def _next_delay(self, busy: bool) -> float:
        if busy or self._dirty or self._notified:
            return self._settings.busy_interval_s
        mono = self.clock.monotonic()
        due = [self._next_resync]
        if (timer := self._timers.next_due()) is not None:
            due.append(timer)
        if self._units:  # exits are seen by observing: look again soon
            due.append(mono + self._settings.observe_s)
        return max(0.0, min(due) - mono)

    async def _round(self) -> bool:
        """Loads what changed, plans the dirty objects, acts and writes; returns whether
        anything was done (the next round then comes soon)."""
        now, mono = self.clock.now(), self.clock.monotonic()
        dirty = await self._absorb_changes(mono)
        units = await self._actor.observe()
        dirty |= self._absorb_units(units)
        capacity = await self.runtime.capacity()
        if capacity != self._capacity:
            self._capacity, self._schedule = capacity, True
            self._parked = set()  # what fit nowhere may fit now
        dirty |= self._timers.pop_due(mono)
        await self._ensure_running_tokens()

        overrides: dict[str, ObjectView] = {}
        scale_notes: dict[str, EventNote] = {}
        wanting = [v for v in self._cache.of_kind("Service") if scaling.wants_load(v)]
        if wanting:  # the gateway's figures move with every request: asked each round
            self.last_loads = await self._loads()
            views = scaling.wake_held(list(self._cache), self.last_loads)
            views, scale_notes = scaling.scale(views, self.last_loads, capacity, now=now)
            for view in views:
                if view is not self._cache.get(view.uid):
                    overrides[view.uid] = view
            dirty |= {v.uid for v in wanting}
            self._schedule = self._schedule or bool(overrides)

        admissions: dict[str, admission.Admission] = {}
        if self._schedule:
            self._schedule = False
            views = [overrides.get(v.uid, v) for v in self._scheduled()]
            if self._quotas is None:  # read again after a quota changed, and at each resync
                self._quotas = await store_io.load_quotas(self._sessions)
            inputs = admission.Inputs(
                capacity=capacity,
                quotas=self._quotas,
                priorities=self._config.priorities,
                policy=self._config.policy,
            )
            decided = admission.decide(
                views,
                self._units,
                inputs=inputs,
                now=now,
                memo=self._workloads,
                parked=self._parked,
            )
            admissions = decided.admissions
            self._parked |= decided.impossible
            if len(self._workloads) > 2 * len(self._cache) + 1000:  # drop stale versions
                live = {(v.uid, v.resource_version) for v in self._cache}
                self._workloads = {k: w for k, w in self._workloads.items() if k in live}
            dirty |= admissions.keys()

        self._update_probes()
        health = self._prober.health()
        todo = [
            overrides.get(uid) or cached
            for uid in sorted(dirty)
            if (cached := self._cache.get(uid)) is not None
        ]
        feeds = [v for v in todo if policy_for(v.kind).takes_records]
        feed_inputs = await load_feed_inputs(self._sessions, feeds)
        results: list[tuple[ObjectView, Plan]] = []
        for view in todo:
            plan = self._plan_one(
                view,
                admissions.get(view.uid),
                scale_notes.get(view.uid),
                now=now,
                health=health,
                feed=feed_inputs.get(view.uid),
            )
            if plan is not None:
                results.append((view, plan))
        self.planned += len(results)
        orphans = [
            unit
            for owner, owned in self._units.items()
            if self._cache.owner(owner) is None
            for unit in owned.values()
        ]
        await self._actor.act(results, orphans)
        outcome = await store_io.apply_plans(
            self._sessions, results, now=now, fence=self._config.fence
        )
        return self._settle(results, outcome, now=now, mono=mono) or bool(orphans)

    async def _absorb_changes(self, mono: float) -> set[str]:
        """Brings the cache up to date; returns the uids to plan because of it."""
        notified, self._notified = self._notified, set()
        resync = mono >= self._next_resync or not self._cache.loaded
        if resync:
            self._next_resync = mono + self._settings.resync_s
            delta = await self._cache.resync()
        else:
            delta = await self._cache.refresh(notified)
        dirty = set(delta.changed) | self._dirty
        self._dirty = set()
        self._parked -= delta.changed  # a changed object is judged afresh
        for view in delta.removed:
            self._timers.cancel(view.uid)
            self._tokens.forget(view.uid)
            self._parked.discard(view.uid)
        woken, self._woken = self._woken, set()
        for kind in woken & set(KINDS):
            dirty |= {v.uid for v in self._cache.of_kind(kind)}
        if QUOTA in woken or resync:
            self._quotas = None
        if delta or QUOTA in woken:
            self._schedule = True
        return dirty

    def _absorb_units(self, units: Iterable[UnitState]) -> set[str]:
        """Records what the runtime runs now; returns the uids whose units changed."""
        by_owner: dict[Owner, dict[int, UnitState]] = defaultdict(dict)
        for unit in units:
            by_owner[(unit.key.kind, unit.key.team, unit.key.name)][unit.key.replica] = unit
        changed = {
            o for o in by_owner.keys() | self._units.keys() if by_owner.get(o) != self._units.get(o)
        }
        self._units = dict(by_owner)
        if changed:
            self._schedule = True
        return {view.uid for owner in changed if (view := self._cache.owner(owner)) is not None}

    def _plan_one(
        self,
        view: ObjectView,
        admitted: admission.Admission | None,
        scale_note: EventNote | None,
        *,
        now: datetime,
        health: Mapping[UnitKey, Health],
        feed: FeedInputs | None,
    ) -> Plan | None:
        owned = self._units.get((view.kind, view.team, view.name), {})
        # Plan against the admitted status, but write guarded by the stored one.
        planned = replace(view, status=admitted.status) if admitted else view
        try:
            plan = self._plan(planned, owned, now=now, health=health, feed=feed)
        except Exception:
            log.exception("planning %s/%s/%s failed", view.kind, view.team, view.name)
            return None
        if admitted is not None:
            plan.status = plan.status if plan.status is not None else admitted.status
            plan.events[:0] = admitted.notes
        if scale_note is not None:
            plan.events.insert(0, scale_note)
        enforced = sorted({u.limits_enforced_by for u in owned.values()} - {""})
        # How its replicas are kept apart from other teams' (local runtime only).
        isolated = sorted({u.isolated_by for u in owned.values()} - {""})
        enforced += [f"isolation {how}" for how in isolated]
        if plan.status is not None and enforced:
            plan.status["limits"] = ", ".join(enforced)
        return plan

    def _settle(
        self,
        results: list[tuple[ObjectView, Plan]],
        outcome: store_io.Outcome,
        *,
        now: datetime,
        mono: float,
    ) -> bool:
        """Records the round's writes in the cache and what each object needs next:
        another round soon when its plan did something, a look after ``recheck_s`` while
        it runs, one at the plan's ``due`` (a time to live), nothing while it only waits.
        Returns whether anything was done."""
        busy = False
        for view, plan in results:
            uid = view.uid
            if uid in outcome.stale:
                self._notified.add(uid)  # someone else wrote it: reload, then plan again
                busy = True
                continue
            if uid in outcome.removed:
                self._cache.drop(view)
                self._timers.cancel(uid)
                self._tokens.forget(uid)
                busy = True
                continue
            written = outcome.written.get(uid)
            if written is not None:
                status, version = written
                view = replace(view, status=status, resource_version=version)
                self._cache.put(view)
            if plan.due is not None:
                self._timers.schedule(uid, mono + max(0.0, (plan.due - now).total_seconds()))
            acted = bool(plan.starts or plan.stops or plan.forgets or plan.events or written)
            if acted:
                self._dirty.add(uid)
                self._schedule = True
                busy = True
            elif self._running(view):
                self._timers.schedule(uid, mono + self._settings.recheck_s)
        return busy

    def _scheduled(self) -> list[ObjectView]:
        """What the scheduler weighs: every unfinished object but the parked, and finished
        ones whose units still run (they hold room until stopped). A cycle so costs what
        can move, not what waits for more capacity."""
        views = self._cache.unfinished(leaving_out=self._parked)
        seen = {v.uid for v in views}
        for owner in self._units:
            view = self._cache.owner(owner)
            if view is not None and view.uid not in seen:
                views.append(view)
                seen.add(view.uid)
        return sorted(views, key=lambda v: v.id)

    def _running(self, view: ObjectView) -> bool:
        """Whether time alone can change what the object needs (a timer keeps watch)."""
        owner = (view.kind, view.team, view.name)
        return bool(
            self._units.get(owner) or view.phase in HOLDING or view.deletion_timestamp is not None
        )

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
        # The idle source answers None for kinds that never idle.
        idle = self._idle_source.idle(view, units, now=now) if self._idle_source else None
        inputs = PlanInputs(
            now=now,
            context=self._unit_context(view),
            health=health,
            idle=idle,
            feed=feed or FeedInputs(),
        )
        return plan_object(view, units, inputs)

    def _unit_context(self, view: ObjectView) -> UnitContext:
        return UnitContext(
            api_url=self._config.api_url,
            token=self._tokens.of(view).token,
            runs_images=self._config.runs_images,
        )

    def _update_probes(self) -> None:
        self._prober.update(
            probe_targets(
                self._units, self._cache.owner, mono=self.clock.monotonic(), now=self.clock.now()
            )
        )

    async def _ensure_running_tokens(self) -> None:
        """Every object with a running unit has its token stored and enabled: the units a
        restarted server adopts keep working (a no-op once this server has stored it)."""
        views = []
        for owner, owned in self._units.items():
            view = self._cache.owner(owner)
            if view is None or not any(u.phase is UnitPhase.RUNNING for u in owned.values()):
                continue
            ended = view.deletion_timestamp is not None or run_ended(view.kind, view.status)
            if not ended and not self._tokens.stored(view):
                views.append(view)
        try:
            await self._tokens.ensure(views)
        except Exception:  # the next round tries again
            log.exception("cannot store the workload tokens of running units")

    # the port (controller/port.py): all that services, routes and the dashboard may ask

    @property
    def runtime_name(self) -> str:
        return self.runtime.name

    async def capacity(self) -> Capacity:
        return await self.runtime.capacity()

    def figures(self) -> ControllerFigures:
        return ControllerFigures(
            passes=self.passes,
            passes_timed=self.passes_timed,
            pass_durations_s=tuple(self.pass_durations_s),
        )
