"""Scheduling policies for the simulator: Sapwood's real ``schedule``, FIFO and LAS."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sapwood.server.controller.plan.scheduler import schedule
from sapwood.server.controller.plan.scheduler.model import (
    Placed,
    Policy,
    Quota,
    Workload,
)
from sim.engine import Action, SimJob, State, place

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class SapwoodPolicy:
    """Each event: ``schedule(pending, running, nodes, quotas)``; admits start on the nodes
    it chose, preempted jobs stop and go back to the queue (keeping their original
    ``queued_at``), and the simulator asks again at the same instant so the workload the
    room was made for is admitted."""

    def __init__(
        self,
        quotas: Mapping[str, Quota],
        policy: Policy | None = None,
        name: str = "sapwood",
        max_calls: int | None = None,
    ) -> None:
        self.name = name
        self.max_calls = max_calls  # give up (stop admitting) after this many calls
        self.calls = 0
        self.stopped: float | None = None
        self.quotas = dict(quotas)
        self.policy = policy or Policy()
        self._workloads: dict[str, Workload] = {}
        self._placed: dict[str, tuple[int, Placed]] = {}
        self.decisions = 0

    def _workload(self, job: SimJob, attained: float = 0.0) -> Workload:
        workload = self._workloads.get(job.uid)
        if workload is not None and workload.attained_s != attained:
            workload = dataclasses.replace(workload, attained_s=attained)
            self._workloads[job.uid] = workload
        if workload is None:
            workload = Workload(
                uid=job.uid,
                ref=f"job/{job.team}/{job.uid}",
                team=job.team,
                priority=job.priority,
                replica=job.replica,
                count=job.count,
                queued_at=T0 + timedelta(seconds=job.arrival),
                attained_s=attained,
            )
            self._workloads[job.uid] = workload
        return workload

    def _running(self, job: SimJob, now: float) -> Placed:
        cached = self._placed.get(job.uid)
        attained = job.attained_at(now) if self.policy.service_levels else 0.0
        if cached is None or cached[0] != job.version or cached[1].workload.attained_s != attained:
            assert job.run_start is not None
            workload = self._workload(job, attained)
            placed = Placed(workload, job.nodes, T0 + timedelta(seconds=job.run_start))
            cached = (job.version, placed)
            self._placed[job.uid] = cached
        return cached[1]

    def decide(self, state: State) -> Action:
        if not state.pending or self.stopped is not None:
            return Action()
        self.calls += 1
        if self.max_calls is not None and self.calls > self.max_calls:
            self.stopped = state.now  # the rest never finishes; the result says so
            return Action()
        decisions = schedule(
            [
                self._workload(j, j.attained if self.policy.service_levels else 0.0)
                for j in state.pending.values()
            ],
            [self._running(j, state.now) for j in state.running.values()],
            state.nodes,
            self.quotas,
            now=T0 + timedelta(seconds=state.now),
            policy=self.policy,
        )
        self.decisions += len(decisions.admit) + len(decisions.preempt) + len(decisions.wait)
        return Action(
            starts=[(a.uid, a.nodes) for a in decisions.admit],
            stops=[p.uid for p in decisions.preempt],
            again=bool(decisions.preempt),
        )


class FifoPolicy:
    """Strict first-in-first-out: start jobs in arrival order until the first that does not
    fit; everything behind it waits (head-of-line blocking, no backfill, no preemption)."""

    name = "fifo"

    def decide(self, state: State) -> Action:
        if not state.pending:
            return Action()
        free = {name: f[:] for name, f in state.free.items()}
        order = [n.name for n in state.nodes]
        starts = []
        for job in sorted(state.pending.values(), key=lambda j: (j.arrival, j.uid)):
            nodes = place(free, order, job.replica, job.count)
            if nodes is None:
                break
            _take(free, job, nodes)
            starts.append((job.uid, nodes))
        return Action(starts=starts)


class LasPolicy:
    """Tiresias-style discretized two-dimensional least-attained-service (2D-LAS).

    A job's attained service is GPUs x seconds run so far. Two queues: Q1 holds jobs below
    ``threshold_gpu_s`` of attained service, Q2 the rest; Q1 goes first, FIFO (arrival)
    inside each queue. Preemptive: at every event the policy walks the jobs in that order
    and gives capacity greedily to whatever fits (skipping what does not); running jobs
    that no longer make the cut are stopped and keep their progress. A job is demoted to
    Q2 the moment it crosses the threshold (the simulator is woken up then). A job that
    does not need to move stays where it runs; a waiting job goes to free room first and
    only takes a lower-ranked job's room if there is no free room for it. No starvation
    promotion (Tiresias' STARVE_LIMIT is off), as in Pollux's Tiresias baseline.
    """

    name = "las"

    def __init__(self, threshold_gpu_s: float = 16 * 3600.0) -> None:
        self.threshold = threshold_gpu_s

    def decide(self, state: State) -> Action:
        if not state.pending:
            return Action()
        now = state.now
        th = self.threshold
        active = [*state.running.values(), *state.pending.values()]
        active.sort(key=lambda j: (j.attained_at(now) >= th, j.arrival, j.uid))
        order = [n.name for n in state.nodes]
        full = {n.name: list(n.allocatable.values()) for n in state.nodes}
        # vfree: capacity minus what is decided so far (kept runs, planned starts)
        # busy: actual free now minus planned starts (plus room of jobs decided to stop)
        vfree = {k: v[:] for k, v in full.items()}
        busy = {k: v[:] for k, v in state.free.items()}
        starts: list[tuple[str, tuple[str, ...]]] = []
        stops: list[str] = []
        for job in active:
            if job.run_start is not None:
                if _fits_on(vfree, job, job.nodes):
                    _take(vfree, job, job.nodes)
                else:
                    stops.append(job.uid)
                    _give(busy, job, job.nodes)
                continue
            nodes = place(busy, order, job.replica, job.count) or place(
                vfree, order, job.replica, job.count
            )
            if nodes is not None:
                _take(vfree, job, nodes)
                _take(busy, job, nodes)
                starts.append((job.uid, nodes))
        return self._wake(state, Action(starts=starts, stops=stops), stopped=set(stops))

    def _wake(self, state: State, action: Action, stopped: set[str]) -> Action:
        """Wake up when the next running Q1 job crosses the threshold."""
        now = state.now
        soonest = None
        running = [j for j in state.running.values() if j.uid not in stopped]
        started = {uid for uid, _ in action.starts}
        running += [state.pending[uid] for uid in started]
        for job in running:
            attained = job.attained_at(now) if job.run_start is not None else job.attained
            if attained < self.threshold and job.gpus:
                at = now + (self.threshold - attained) / job.gpus
                soonest = at if soonest is None else min(soonest, at)
        action.wake = soonest
        return action


def _take(free: dict[str, list[int]], job: SimJob, nodes: tuple[str, ...]) -> None:
    r = job.replica
    for name in nodes:
        f = free[name]
        f[0] -= r.cpu_millis
        f[1] -= r.memory_bytes
        f[2] -= r.gpus


def _give(free: dict[str, list[int]], job: SimJob, nodes: tuple[str, ...]) -> None:
    r = job.replica
    for name in nodes:
        f = free[name]
        f[0] += r.cpu_millis
        f[1] += r.memory_bytes
        f[2] += r.gpus


def _fits_on(free: dict[str, list[int]], job: SimJob, nodes: tuple[str, ...]) -> bool:
    _take(free, job, nodes)
    ok = all(min(free[name]) >= 0 for name in set(nodes))
    _give(free, job, nodes)
    return ok
