"""The simulated clock, the cluster's free capacity, and what a run measured.

Time is in seconds from the start of the trace. Events are job arrivals, job completions
and wake-ups a policy asks for (LAS: the moment a running job crosses its queue
threshold). At every event time the policy is asked what to start and what to stop; it
may ask to be asked again at the same instant (Sapwood: after preempting, the next
cycle admits the workload the room was made for).

A stopped (preempted) job keeps its progress: it resumes with the work it had left
(checkpoint/restore, as Tiresias assumes), plus ``restart_penalty_s`` of extra work.
Run time does not depend on where the replicas land.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sapwood.server.controller.plan.scheduler.model import Node, Quota, Resources

ARRIVE, FINISH, WAKE = 0, 1, 2  # event kinds; all events at one instant go before deciding
MAX_ROUNDS = 3  # decide() calls at one instant (a preemption needs a second one)


@dataclass(slots=True)
class SimJob:
    uid: str
    arrival: float
    duration: float  # uncontended run time, seconds
    replica: Resources  # per replica
    count: int = 1
    team: str = "default"
    priority: int = 0
    # mutable state
    remaining: float = 0.0
    attained: float = 0.0  # GPU-seconds of service received before the current run
    run_start: float | None = None  # set while running
    first_start: float | None = None
    finish: float | None = None
    nodes: tuple[str, ...] = ()
    version: int = 0
    preemptions: int = 0

    @property
    def gpus(self) -> int:
        return self.replica.gpus * self.count

    def attained_at(self, now: float) -> float:
        if self.run_start is None:
            return self.attained
        return self.attained + self.gpus * (now - self.run_start)


@dataclass
class State:
    """What a policy sees: the clock, the nodes, free capacity, pending and running jobs."""

    now: float
    nodes: Sequence[Node]
    free: dict[str, list[int]]  # node -> [cpu_millis, memory_bytes, gpus] free
    pending: dict[str, SimJob]  # in arrival order (re-queued jobs go to the end)
    running: dict[str, SimJob]
    total_gpus: int


@dataclass
class Action:
    starts: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    again: bool = False  # ask again at the same instant once this is applied
    wake: float | None = None  # ask again at this time even if nothing happens


class Policy(Protocol):
    name: str

    def decide(self, state: State) -> Action: ...


@dataclass
class Result:
    policy: str
    trace: str
    jobs: int
    finished: int
    avg_jct: float
    p95_jct: float
    makespan: float
    utilisation: float
    avg_wait: float  # JCT - run time: all the time a job was not running
    avg_first_wait: float  # arrival -> first start
    preemptions: int
    decide_calls: int
    decide_s: float  # wall time spent in the policy (for Sapwood: in schedule())
    wall_s: float
    invalid: list[str] = field(default_factory=list)  # decisions the simulator refused
    team_over_max: dict[str, int] = field(default_factory=dict)  # team -> GPUs above max


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def fits(need: Resources, free: list[int]) -> bool:
    return need.cpu_millis <= free[0] and need.memory_bytes <= free[1] and need.gpus <= free[2]


class Simulator:
    def __init__(
        self,
        nodes: Sequence[Node],
        jobs: Iterable[SimJob],
        *,
        trace: str = "",
        quotas: Mapping[str, Quota] | None = None,
        restart_penalty_s: float = 0.0,
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        self.max_rounds = max_rounds
        self.nodes = list(nodes)
        self.by_name = {n.name: n for n in self.nodes}
        self.template = [
            (j.uid, j.arrival, j.duration, j.replica, j.count, j.team, j.priority) for j in jobs
        ]
        self.trace = trace
        self.quotas = dict(quotas or {})
        self.restart_penalty_s = restart_penalty_s

    def run(self, policy: Policy) -> Result:
        began = time.perf_counter()
        jobs = {
            uid: SimJob(uid, a, d, r, c, team, p, remaining=d)
            for uid, a, d, r, c, team, p in self.template
        }
        state = State(
            now=0.0,
            nodes=self.nodes,
            free={n.name: list(n.allocatable.values()) for n in self.nodes},
            pending={},
            running={},
            total_gpus=sum(n.allocatable.gpus for n in self.nodes),
        )
        heap: list[tuple[float, int, int, str, int]] = []
        seq = 0
        for job in sorted(jobs.values(), key=lambda j: (j.arrival, j.uid)):
            heap.append((job.arrival, ARRIVE, seq, job.uid, 0))
            seq += 1
        heapq.heapify(heap)
        wakes: set[float] = set()
        invalid: list[str] = []
        usage: dict[str, int] = {}
        over: dict[str, int] = {}
        preemptions = calls = 0
        decide_s = 0.0

        def stop(job: SimJob) -> None:
            now = state.now
            assert job.run_start is not None
            job.attained = job.attained_at(now)
            job.remaining = max(0.0, job.remaining - (now - job.run_start)) + (
                self.restart_penalty_s
            )
            job.run_start = None
            job.version += 1
            self._release(state, job)
            usage[job.team] -= job.gpus
            job.nodes = ()

        while heap:
            now = heap[0][0]
            state.now = now
            while heap and heap[0][0] == now:
                _, kind, _, uid, version = heapq.heappop(heap)
                if kind == ARRIVE:
                    state.pending[uid] = jobs[uid]
                elif kind == FINISH:
                    job = jobs[uid]
                    if job.version != version or uid not in state.running:
                        continue  # stale: the job was stopped since
                    stop(job)
                    job.remaining = 0.0
                    job.finish = now
                    del state.running[uid]
                else:
                    wakes.discard(now)
            for _ in range(self.max_rounds):
                t0 = time.perf_counter()
                action = policy.decide(state)
                decide_s += time.perf_counter() - t0
                calls += 1
                for uid in action.stops:
                    job = state.running.pop(uid, None)
                    if job is None:
                        invalid.append(f"t={now:.0f} stop of {uid}, which is not running")
                        continue
                    stop(job)
                    job.preemptions += 1
                    preemptions += 1
                    state.pending[uid] = job
                for uid, placement in action.starts:
                    job = state.pending.get(uid)
                    problem = (
                        f"start of {uid}, which is not pending"
                        if job is None
                        else self._check(state, job, placement)
                    )
                    if problem:
                        invalid.append(f"t={now:.0f} {problem}")
                        continue
                    assert job is not None
                    del state.pending[uid]
                    self._take(state, job, placement)
                    job.nodes = tuple(placement)
                    job.run_start = now
                    if job.first_start is None:
                        job.first_start = now
                    job.version += 1
                    state.running[uid] = job
                    usage[job.team] = usage.get(job.team, 0) + job.gpus
                    quota = self.quotas.get(job.team)
                    if quota is not None and quota.max is not None:
                        excess = usage[job.team] - quota.max.gpus
                        if excess > over.get(job.team, 0):
                            over[job.team] = excess
                    heapq.heappush(heap, (now + job.remaining, FINISH, seq, uid, job.version))
                    seq += 1
                if action.wake is not None and action.wake > now and action.wake not in wakes:
                    wakes.add(action.wake)
                    heapq.heappush(heap, (action.wake, WAKE, seq, "", 0))
                    seq += 1
                if not action.again:
                    break

        done = [j for j in jobs.values() if j.finish is not None]
        jcts = [j.finish - j.arrival for j in done if j.finish is not None]
        first = min((j.arrival for j in jobs.values()), default=0.0)
        last = max((j.finish for j in done if j.finish is not None), default=first)
        makespan = last - first
        work = sum(j.gpus * j.duration for j in done)
        return Result(
            policy=policy.name,
            trace=self.trace,
            jobs=len(jobs),
            finished=len(done),
            avg_jct=sum(jcts) / len(jcts) if jcts else math.nan,
            p95_jct=percentile(jcts, 95),
            makespan=makespan,
            utilisation=work / (state.total_gpus * makespan) if makespan > 0 else math.nan,
            avg_wait=(
                sum(jct - j.duration for jct, j in zip(jcts, done, strict=True)) / len(done)
                if done
                else math.nan
            ),
            avg_first_wait=(
                sum((j.first_start or 0.0) - j.arrival for j in done) / len(done)
                if done
                else math.nan
            ),
            preemptions=preemptions,
            decide_calls=calls,
            decide_s=decide_s,
            wall_s=time.perf_counter() - began,
            invalid=invalid,
            team_over_max=over,
        )

    def _check(self, state: State, job: SimJob, placement: Sequence[str]) -> str:
        if len(placement) != job.count:
            return f"start of {job.uid} on {len(placement)} nodes for {job.count} replicas"
        need: dict[str, int] = {}
        for name in placement:
            if name not in state.free:
                return f"start of {job.uid} on unknown node {name}"
            need[name] = need.get(name, 0) + 1
        r = job.replica
        for name, n in need.items():
            free = state.free[name]
            if r.cpu_millis * n > free[0] or r.memory_bytes * n > free[1] or r.gpus * n > free[2]:
                return f"start of {job.uid}: {n} replica(s) over-commit node {name} (free {free})"
        return ""

    @staticmethod
    def _take(state: State, job: SimJob, placement: Sequence[str]) -> None:
        r = job.replica
        for name in placement:
            free = state.free[name]
            free[0] -= r.cpu_millis
            free[1] -= r.memory_bytes
            free[2] -= r.gpus

    @staticmethod
    def _release(state: State, job: SimJob) -> None:
        r = job.replica
        for name in job.nodes:
            free = state.free[name]
            free[0] += r.cpu_millis
            free[1] += r.memory_bytes
            free[2] += r.gpus


def place(
    free: Mapping[str, list[int]], order: Sequence[str], replica: Resources, count: int
) -> tuple[str, ...] | None:
    """Placement for FIFO and LAS. If one node can hold the whole gang: the tightest such
    node (best fit on GPUs, so big nodes stay whole). Otherwise fill the nodes that can
    hold the most replicas first, so the gang spans as few nodes as possible. Ties go in
    node order. Does not change ``free``."""
    room: list[tuple[int, int, str]] = []
    tightest: tuple[int, int, str] | None = None
    for index, name in enumerate(order):
        f = free[name]
        n = _how_many(replica, f)
        if n > 0:
            room.append((-n, index, name))
            if n >= count and (tightest is None or (f[2], index) < tightest[:2]):
                tightest = (f[2], index, name)
    if tightest is not None:
        return (tightest[2],) * count
    if sum(-n for n, _, _ in room) < count:
        return None
    room.sort()
    chosen: list[str] = []
    for neg, _, name in room:
        chosen.extend([name] * min(-neg, count - len(chosen)))
        if len(chosen) == count:
            return tuple(chosen)
    return None


def _how_many(replica: Resources, free: list[int]) -> int:
    """How many replicas fit in ``free``."""
    best = 1 << 30
    for need, have in zip(replica.values(), free, strict=True):
        if need > 0:
            best = min(best, have // need)
    return best
