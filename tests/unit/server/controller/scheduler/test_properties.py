"""Invariants of one scheduling cycle over random clusters, placements, queues and quotas."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sapwood.server.controller.scheduler import (
    Decisions,
    Node,
    Placed,
    Policy,
    Quota,
    Resources,
    Role,
    Workload,
    schedule,
)
from tests.unit.server.controller.scheduler.build import GI, NOW, T0

TEAMS = ("research", "vision", "speech", "infra")
MODELS = ("a100", "h100")
ZERO = Resources()

CPU = st.sampled_from([250, 500, 1000, 2000, 4000, 8000, 16000])
MEMORY = st.sampled_from([GI // 2, GI, 2 * GI, 4 * GI, 16 * GI, 32 * GI, 64 * GI])
GPUS = st.sampled_from([0, 0, 0, 1, 1, 2, 4, 8])
ROLES = st.sampled_from([Role.REGULAR] * 5 + [Role.ELASTIC] * 2 + [Role.PROTECTED])


@dataclass
class Scenario:
    nodes: list[Node]
    running: list[Placed]
    pending: list[Workload]
    quotas: dict[str, Quota] = field(default_factory=dict)
    policy: Policy = Policy()

    def run(self, pending: Sequence[Workload] | None = None, running: Sequence[Placed] | None = None):
        return schedule(
            self.pending if pending is None else pending,
            self.running if running is None else running,
            self.nodes,
            self.quotas,
            now=NOW,
            policy=self.policy,
        )


def eligible(node: Node, workload: Workload) -> bool:
    if workload.gpu_model is not None and node.gpu_model != workload.gpu_model:
        return False
    return all(node.labels.get(k) == v for k, v in workload.node_selector.items())


def fits(need: Resources, room: Resources) -> bool:
    return all(n <= r for n, r in zip(need.values(), room.values(), strict=True))


@st.composite
def node_lists(draw: st.DrawFn, *, min_size: int = 1, max_size: int = 20) -> list[Node]:
    out = []
    for index in range(draw(st.integers(min_size, max_size))):
        gpus = draw(st.sampled_from([0, 0, 1, 2, 4, 8]))
        out.append(
            Node(
                f"n{index}",
                Resources(
                    draw(st.sampled_from([4, 8, 16, 32, 64])) * 1000,
                    draw(st.sampled_from([8, 16, 64, 128, 256])) * GI,
                    gpus,
                ),
                draw(st.sampled_from([{}, {"pool": "train"}, {"pool": "serve"}])),
                draw(st.sampled_from(MODELS)) if gpus else None,
            )
        )
    return out


@st.composite
def workloads(draw: st.DrawFn, uid: str, *, pending: bool) -> Workload:
    role = draw(ROLES)
    team = draw(st.sampled_from(TEAMS))
    return Workload(
        uid=uid,
        ref=f"{role.value}/{team}/{uid}",
        team=team,
        priority=draw(st.integers(0, 3)),
        replica=Resources(draw(CPU), draw(MEMORY), draw(GPUS)),
        count=1 if role is Role.ELASTIC else draw(st.integers(1, 4)),
        queued_at=T0 + timedelta(minutes=draw(st.integers(0, 30))),
        role=role,
        node_selector=draw(st.sampled_from([{}, {}, {}, {"pool": "train"}])) if pending else {},
        gpu_model=draw(st.sampled_from([None, None, None, *MODELS])) if pending else None,
    )


def place_all(
    draw: st.DrawFn, nodes: list[Node], candidates: list[Workload]
) -> list[Placed]:
    """Running placements that fit: each replica first fit from a random node onwards."""
    free = {n.name: n.allocatable for n in nodes}
    names = [n.name for n in nodes]
    out = []
    for workload in candidates:
        chosen: list[str] = []
        for _ in range(workload.count):
            start = draw(st.integers(0, len(names) - 1))
            for name in names[start:] + names[:start]:
                if fits(workload.replica, free[name]):
                    free[name] = free[name] - workload.replica
                    chosen.append(name)
                    break
            else:
                break
        if len(chosen) < workload.count:
            for name in chosen:
                free[name] = free[name] + workload.replica
            continue
        started = T0 + timedelta(minutes=draw(st.integers(0, 60)))
        out.append(Placed(workload, tuple(chosen), started))
    return out


@st.composite
def quota_maps(draw: st.DrawFn) -> dict[str, Quota]:
    out = {}
    for team in TEAMS:
        if not draw(st.booleans()):
            continue
        guaranteed = Resources(
            draw(st.integers(0, 64)) * 1000, draw(st.integers(0, 256)) * GI, draw(st.integers(0, 16))
        )
        extra = Resources(
            draw(st.integers(0, 128)) * 1000, draw(st.integers(0, 512)) * GI, draw(st.integers(0, 32))
        )
        out[team] = Quota(
            guaranteed=guaranteed,
            max=draw(st.sampled_from([None, guaranteed + extra])),
            weight=draw(st.sampled_from([0.5, 1.0, 2.0])),
        )
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    nodes = draw(node_lists())
    running = place_all(
        draw,
        nodes,
        [draw(workloads(f"r{i}", pending=False)) for i in range(draw(st.integers(0, 30)))],
    )
    pending = [draw(workloads(f"p{i}", pending=True)) for i in range(draw(st.integers(1, 60)))]
    policy = Policy(
        fair_share=draw(st.booleans()), preemption=draw(st.booleans()), backfill=draw(st.booleans())
    )
    return Scenario(nodes, running, pending, draw(quota_maps()), policy)


def survivors(scenario: Scenario, decisions: Decisions) -> list[Placed]:
    gone = {p.uid for p in decisions.preempt}
    return [p for p in scenario.running if p.workload.uid not in gone]


def admitted(scenario: Scenario, decisions: Decisions) -> list[Placed]:
    by_uid = {w.uid: w for w in scenario.pending}
    return [Placed(by_uid[a.uid], a.nodes) for a in decisions.admit]


SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(scenarios())
def test_no_node_is_over_committed(scenario: Scenario) -> None:
    decisions = scenario.run()
    used: dict[str, Resources] = defaultdict(Resources)
    for placed in survivors(scenario, decisions) + admitted(scenario, decisions):
        for name in placed.nodes:
            used[name] += placed.workload.replica
    for node in scenario.nodes:
        assert fits(used[node.name], node.allocatable), node.name


@SETTINGS
@given(scenarios())
def test_no_team_is_taken_past_its_max(scenario: Scenario) -> None:
    decisions = scenario.run()
    usage: dict[str, Resources] = defaultdict(Resources)
    for placed in survivors(scenario, decisions) + admitted(scenario, decisions):
        usage[placed.workload.team] += placed.workload.request
    teams = {p.workload.team for p in admitted(scenario, decisions)}
    for team in teams:
        limit = scenario.quotas.get(team, Quota()).max
        if limit is not None:
            assert fits(usage[team], limit), team


@SETTINGS
@given(scenarios())
def test_a_gang_is_admitted_whole_on_eligible_nodes(scenario: Scenario) -> None:
    decisions = scenario.run()
    nodes = {n.name: n for n in scenario.nodes}
    for placed in admitted(scenario, decisions):
        assert len(placed.nodes) == placed.workload.count
        assert all(eligible(nodes[name], placed.workload) for name in placed.nodes)


@SETTINGS
@given(scenarios())
def test_every_pending_workload_gets_exactly_one_decision(scenario: Scenario) -> None:
    decisions = scenario.run()
    pending = [w.uid for w in scenario.pending]
    running = {p.workload.uid for p in scenario.running}
    decided = [a.uid for a in decisions.admit] + [w.uid for w in decisions.wait]
    assert sorted(decided) == sorted(pending)
    assert [w.position for w in decisions.wait] == list(range(1, len(decisions.wait) + 1))
    assert all(w.reason for w in decisions.wait)
    victims = [p.uid for p in decisions.preempt]
    assert len(victims) == len(set(victims))
    assert set(victims) <= running
    roles = {w.uid: w.role for w in scenario.pending}
    by = {p.workload.uid: p.workload for p in scenario.running}
    waiting = {w.uid for w in decisions.wait}
    for preempt in decisions.preempt:
        assert preempt.by in waiting  # it waits for its victims to stop
        assert roles[preempt.by] is not Role.ELASTIC
        assert by[preempt.uid].role is not Role.PROTECTED
    if not scenario.policy.preemption:
        assert decisions.preempt == []


@SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_same_input_gives_the_same_decisions_in_any_order(
    scenario: Scenario, rng: random.Random
) -> None:
    first = scenario.run()
    assert scenario.run() == first
    pending, running = list(scenario.pending), list(scenario.running)
    rng.shuffle(pending)
    rng.shuffle(running)
    assert scenario.run(pending, running) == first


# --- elastic first: one waiting workload against a random GPU cluster -----------------------


def copies(replica: Resources, free: Resources) -> int:
    """How many replicas fit in ``free`` (every replica asks for some of each resource)."""
    return min(f // r for f, r in zip(free.values(), replica.values(), strict=True))


def placeable(workload: Workload, nodes: Sequence[Node], running: Sequence[Placed]) -> bool:
    """Whether the gang fits on the eligible nodes; identical replicas, so counting suffices."""
    free = {n.name: n.allocatable for n in nodes}
    for placed in running:
        for name in placed.nodes:
            free[name] = free[name] - placed.workload.replica
    total = sum(copies(workload.replica, free[n.name]) for n in nodes if eligible(n, workload))
    return total >= workload.count


@st.composite
def gpu_workloads(draw: st.DrawFn, uid: str, *, role: Role | None = None) -> Workload:
    role = role or draw(ROLES)
    team = draw(st.sampled_from(TEAMS))
    return Workload(
        uid=uid,
        ref=f"{role.value}/{team}/{uid}",
        team=team,
        priority=draw(st.integers(0, 3)),
        replica=Resources(
            draw(st.sampled_from([1000, 2000, 4000])),
            draw(st.sampled_from([4, 8, 16])) * GI,
            draw(st.sampled_from([1, 2, 4])),
        ),
        count=1 if role is Role.ELASTIC else draw(st.integers(1, 3)),
        queued_at=T0,
        role=role,
    )


@st.composite
def elastic_scenarios(draw: st.DrawFn) -> Scenario:
    nodes = [
        Node(f"n{i}", Resources(32000, 128 * GI, draw(st.sampled_from([2, 4, 8]))))
        for i in range(draw(st.integers(1, 6)))
    ]
    running = place_all(
        draw, nodes, [draw(gpu_workloads(f"r{i}")) for i in range(draw(st.integers(1, 20)))]
    )
    waiting = draw(gpu_workloads("w", role=Role.REGULAR))
    quotas = draw(quota_maps())
    return Scenario(nodes, running, [waiting], quotas, Policy(backfill=draw(st.booleans())))


@SETTINGS
@given(elastic_scenarios())
def test_a_regular_workload_is_preempted_only_when_elastic_replicas_would_not_do(
    scenario: Scenario,
) -> None:
    decisions = scenario.run()
    by_uid = {p.workload.uid: p.workload for p in scenario.running}
    victims = [by_uid[p.uid] for p in decisions.preempt]
    if any(v.role is not Role.ELASTIC for v in victims):
        without_elastic = [p for p in scenario.running if p.workload.role is not Role.ELASTIC]
        assert not placeable(scenario.pending[0], scenario.nodes, without_elastic)
        assert all(
            p.workload.uid in {v.uid for v in victims}
            or p.workload.role is not Role.ELASTIC
            or not set(p.nodes) & {n for v in decisions.preempt for n in by_node(scenario, v.uid)}
            or True
            for p in scenario.running
        )


def by_node(scenario: Scenario, uid: str) -> tuple[str, ...]:
    return next(p.nodes for p in scenario.running if p.workload.uid == uid)


# --- a guarantee is always reachable --------------------------------------------------------

UNIT = Resources(1000, GI, 1)  # every replica is one unit, so room is a matter of counting


@st.composite
def guarantee_scenarios(draw: st.DrawFn) -> Scenario:
    sizes = [draw(st.integers(1, 8)) for _ in range(draw(st.integers(1, 8)))]
    nodes = [Node(f"n{i}", UNIT.times(s)) for i, s in enumerate(sizes)]
    total = sum(sizes)
    # Guarantees that together fit in the cluster; "research" is the team that asks.
    shares = [draw(st.integers(0, total)) for _ in TEAMS]
    scale = max(1, -(-sum(shares) // total))
    guarantees = dict(zip(TEAMS, (s // scale for s in shares), strict=True))
    guarantees["research"] = max(guarantees["research"], 1)
    while sum(guarantees.values()) > total:
        other = max((t for t in TEAMS if t != "research"), key=lambda t: guarantees[t])
        guarantees[other] -= 1
    quotas = {
        team: Quota(guaranteed=UNIT.times(g), weight=draw(st.sampled_from([0.5, 1.0, 2.0])))
        for team, g in guarantees.items()
    }

    def unit_work(uid: str, team: str, count: int) -> Workload:
        return Workload(
            uid=uid,
            ref=f"job/{team}/{uid}",
            team=team,
            priority=draw(st.integers(0, 5)),
            replica=UNIT,
            count=count,
            queued_at=T0 + timedelta(minutes=draw(st.integers(0, 30))),
        )

    own = draw(st.integers(0, guarantees["research"] - 1))
    candidates = [unit_work(f"mine{i}", "research", 1) for i in range(own)]
    candidates += [
        unit_work(f"r{i}", draw(st.sampled_from(TEAMS[1:])), draw(st.integers(1, 3)))
        for i in range(draw(st.integers(0, 3 * total)))
    ]
    running = place_all(draw, nodes, candidates)
    used = sum(p.workload.count for p in running if p.workload.team == "research")
    asking = draw(st.integers(1, guarantees["research"] - used))
    waiting = unit_work("w", "research", asking)
    policy = Policy(fair_share=draw(st.booleans()), backfill=draw(st.booleans()))
    return Scenario(nodes, running, [waiting], quotas, policy)


@settings(max_examples=200, deadline=None)
@given(guarantee_scenarios())
def test_a_team_within_its_guarantee_is_admitted_or_preempts(scenario: Scenario) -> None:
    decisions = scenario.run()
    if decisions.admit:
        assert [a.uid for a in decisions.admit] == ["w"]
        return
    assert decisions.preempt, decisions.wait
    assert {p.by for p in decisions.preempt} == {"w"}
    (wait,) = decisions.wait
    assert wait.reason.startswith(f"waiting for {len(decisions.preempt)} preempted workload(s)")
