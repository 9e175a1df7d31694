"""Scheduler throughput: decisions per second and the length of one full scheduling cycle.

    .venv/bin/python bench/scheduler_throughput.py [--cycles 3] [--running 0.5] [--seed 1]

Calls the real ``sapwood.server.controller.plan.scheduler.schedule`` on synthetic clusters.
Each cycle gets fresh input (a new seed); only the ``schedule(...)`` call is timed.

Scenarios
- ``kueue-15k``: the shape of Kueue's published performance scenario: 15,000 pending
  workloads in 30 teams (Kueue: ClusterQueues) forming 5 cohorts of 6 teams. Sapwood
  has no cohorts, so a cohort is modelled with quotas: the cluster is split evenly
  between the 5 cohorts, each team is guaranteed 1/6 of its cohort's share, and its
  ``max`` is the whole cohort's share (it may borrow up to that). Cluster: 200 nodes of
  64 CPU, 512 GiB, 8 GPUs (12,800 CPU, 1,600 GPUs).
- ``10k-x-1000``: 10,000 pending workloads in the same 30 teams on 1,000 nodes of
  32 CPU, 256 GiB, 8 GPUs (32,000 CPU, 8,000 GPUs).

Workload mix (both scenarios, drawn at random per workload): 60% small (1 replica of
1 CPU, 2 GiB), 30% medium (1 replica of 4 CPU, 16 GiB, 1 GPU), 10% large (a gang of 2-4
replicas of 16 CPU, 128 GiB, 8 GPUs, uniform). Priority 0, 50 or 100 (uniform). Queued
over the last hour. By default half of each cluster's GPUs are already held by running
priority-0 workloads of random teams (``--running``), so the cycle also weighs
preemption (higher priority, and teams reclaiming their guarantee from borrowers).
Only a fraction of the pending work fits.

A decision is one entry of admit, preempt or wait. decisions/s = decisions / time of
the call. Ends with one line:
``RESULT scheduler: decisions_per_s=<min over scenarios> cycle_ms=<kueue-15k median>
cycle_10k_x_1000_ms=<median>``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sapwood.server.controller.plan.scheduler import schedule
from sapwood.server.controller.plan.scheduler.model import (
    Node,
    Placed,
    Policy,
    Quota,
    Resources,
    Workload,
)

GIB = 1024**3
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TEAMS = 30
COHORTS = 5
SMALL = Resources(1000, 2 * GIB, 0)
MEDIUM = Resources(4000, 16 * GIB, 1)
LARGE = Resources(16000, 128 * GIB, 8)


@dataclass(frozen=True)
class Scenario:
    name: str
    pending: int
    nodes: int
    node: Resources


SCENARIOS = (
    Scenario("kueue-15k", 15_000, 200, Resources(64_000, 512 * GIB, 8)),
    Scenario("10k-x-1000", 10_000, 1_000, Resources(32_000, 256 * GIB, 8)),
)


def team_name(i: int) -> str:
    return f"cohort-{i // (TEAMS // COHORTS)}-team-{i % (TEAMS // COHORTS)}"


def quotas_for(total: Resources) -> dict[str, Quota]:
    per_team = TEAMS // COHORTS
    cohort = Resources(*(v // COHORTS for v in total.values()))
    guaranteed = Resources(*(v // per_team for v in cohort.values()))
    return {team_name(i): Quota(guaranteed=guaranteed, max=cohort) for i in range(TEAMS)}


def workload(rng: random.Random, uid: str, team: str, priority: int) -> Workload:
    roll = rng.random()
    if roll < 0.6:
        replica, count = SMALL, 1
    elif roll < 0.9:
        replica, count = MEDIUM, 1
    else:
        replica, count = LARGE, rng.randint(2, 4)
    return Workload(
        uid=uid,
        ref=f"job/{team}/{uid}",
        team=team,
        priority=priority,
        replica=replica,
        count=count,
        queued_at=NOW - timedelta(seconds=rng.uniform(0, 3600)),
    )


def make_input(
    scenario: Scenario, seed: int, running_fraction: float
) -> tuple[list[Workload], list[Placed], list[Node], dict[str, Quota]]:
    rng = random.Random(seed)
    nodes = [Node(f"node-{i:04d}", scenario.node) for i in range(scenario.nodes)]
    total = scenario.node.times(scenario.nodes)
    pending = [
        workload(rng, f"w{seed}-{i}", team_name(rng.randrange(TEAMS)), rng.choice((0, 50, 100)))
        for i in range(scenario.pending)
    ]
    # Running work: first fit until the GPUs held reach the fraction asked for.
    running: list[Placed] = []
    free = {n.name: n.allocatable for n in nodes}
    names = [n.name for n in nodes]
    target = total.gpus * running_fraction
    held = 0
    cursor = 0
    i = 0
    while held < target and cursor < len(names):
        w = workload(rng, f"r{seed}-{i}", team_name(rng.randrange(TEAMS)), 0)
        i += 1
        placement = []
        probe = dict(free)
        for name in names[cursor:]:
            while len(placement) < w.count and w.replica.fits_in(probe[name]):
                probe[name] = probe[name] - w.replica
                placement.append(name)
            if len(placement) == w.count:
                break
        if len(placement) < w.count:
            cursor += 1
            continue
        free = probe
        running.append(Placed(w, tuple(placement), NOW - timedelta(seconds=rng.uniform(0, 7200))))
        held += w.request.gpus
        while cursor < len(names) and free[names[cursor]].gpus == 0:
            cursor += 1
    return pending, running, nodes, quotas_for(total)


def run(scenario: Scenario, cycles: int, seed: int, running_fraction: float) -> dict[str, float]:
    times, counts = [], []
    admitted = preempted = waiting = 0
    for c in range(cycles):
        pending, running, nodes, quotas = make_input(scenario, seed + c, running_fraction)
        t0 = time.perf_counter()
        decisions = schedule(pending, running, nodes, quotas, now=NOW, policy=Policy())
        elapsed = time.perf_counter() - t0
        n = len(decisions.admit) + len(decisions.preempt) + len(decisions.wait)
        if len(decisions.admit) + len(decisions.wait) != len(pending):
            print(
                f"  warning: {len(pending)} pending but {len(decisions.admit)} admitted + "
                f"{len(decisions.wait)} waiting",
                file=sys.stderr,
            )
        times.append(elapsed)
        counts.append(n)
        admitted += len(decisions.admit)
        preempted += len(decisions.preempt)
        waiting += len(decisions.wait)
        print(
            f"  {scenario.name} cycle {c + 1}: {elapsed * 1000:8.1f} ms, {n} decisions "
            f"(admit {len(decisions.admit)}, preempt {len(decisions.preempt)}, "
            f"wait {len(decisions.wait)}; {len(running)} running before)",
            flush=True,
        )
    rates = [n / t for n, t in zip(counts, times, strict=True)]
    return {
        "cycle_ms": statistics.median(times) * 1000,
        "decisions_per_s": statistics.median(rates),
        "admitted": admitted / cycles,
        "preempted": preempted / cycles,
        "waiting": waiting / cycles,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=3, help="timed cycles per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--running", type=float, default=0.5, help="fraction of GPUs already held by running work"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed cycles first")
    args = parser.parse_args()

    results = {}
    for scenario in SCENARIOS:
        for w in range(args.warmup):
            pending, running, nodes, quotas = make_input(scenario, 10_000 + w, args.running)
            schedule(pending, running, nodes, quotas, now=NOW)
        r = run(scenario, args.cycles, args.seed, args.running)
        results[scenario.name] = r
        print(
            f"{scenario.name}: {scenario.pending} pending x {scenario.nodes} nodes: "
            f"{r['decisions_per_s']:,.0f} decisions/s, cycle median {r['cycle_ms']:.0f} ms "
            f"(mean per cycle: admit {r['admitted']:.0f}, preempt {r['preempted']:.0f}, "
            f"wait {r['waiting']:.0f})",
            flush=True,
        )
    rate = min(r["decisions_per_s"] for r in results.values())
    print(
        f"RESULT scheduler: decisions_per_s={rate:.0f} "
        f"cycle_ms={results['kueue-15k']['cycle_ms']:.0f} "
        f"cycle_10k_x_1000_ms={results['10k-x-1000']['cycle_ms']:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
