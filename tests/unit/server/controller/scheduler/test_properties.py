"""Invariants of one scheduling cycle over random clusters, placements, queues and quotas."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from sapwood.server.controller.plan.scheduler import (
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

T = TypeVar("T")
TEAMS = ("research", "vision", "speech", "infra")
MODELS = (None, "a100", "h100")
ROLES = (Role.REGULAR, Role.REGULAR, Role.REGULAR, Role.ELASTIC, Role.ELASTIC, Role.PROTECTED)
SETTINGS = settings(max_examples=100, deadline=None)

# A node or a workload is decoded from one drawn integer, its genes: a draw per field would
# make examples of 60 workloads slow to generate. Genes of 0 decode to the plainest one.
GENES = st.integers(0, 2**64)


class Genes:
    def __init__(self, value: int) -> None:
        self.value = value

    def pick(self, options: Sequence[T]) -> T:
        self.value, index = divmod(self.value, len(options))
        return options[index]

    def integer(self, low: int, high: int) -> int:
        return self.pick(range(low, high + 1))


@dataclass
class Scenario:
    nodes: list[Node]
    running: list[Placed]
    pending: list[Workload]
    quotas: dict[str, Quota] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)

    def run(
        self, pending: Sequence[Workload] | None = None, running: Sequence[Placed] | None = None
    ) -> Decisions:
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


def make_node(index: int, genes: Genes) -> Node:
    gpus = genes.pick((8, 0, 1, 2, 4, 0))
    return Node(
        f"n{index}",
        Resources(
            genes.pick((64, 4, 8, 16, 32)) * 1000,
            genes.pick((256, 8, 16, 64, 128)) * GI,
            gpus,
        ),
        genes.pick(({}, {"pool": "train"}, {"pool": "serve"})),
        genes.pick(("a100", "h100")) if gpus else None,
    )


def make_workload(uid: str, genes: Genes, *, pending: bool) -> Workload:
    role = genes.pick(ROLES)
    team = genes.pick(TEAMS)
    return Workload(
        uid=uid,
        ref=f"{role.value}/{team}/{uid}",
        team=team,
        priority=genes.integer(0, 3),
        replica=Resources(
            genes.pick((1000, 250, 500, 2000, 4000, 8000, 16000)),
            genes.pick((4, 1, 2, 8, 16, 32, 64)) * GI // 2,
            genes.pick((0, 1, 0, 0, 1, 2, 4, 8)),
        ),
        count=1 if role is Role.ELASTIC else genes.integer(1, 4),
        queued_at=T0 + timedelta(minutes=genes.integer(0, 30)),
        role=role,
        node_selector=genes.pick(({}, {}, {}, {"pool": "train"})) if pending else {},
        gpu_model=genes.pick((*MODELS, None, None)) if pending else None,
    )


def place_all(nodes: list[Node], candidates: list[tuple[Workload, int]]) -> list[Placed]:
    """Running placements that fit: replica by replica, first fit from a given node onwards.

    Candidates that do not fit whole are left out; the int gives the start node and start time.
    """
    free = {n.name: n.allocatable for n in nodes}
    names = [n.name for n in nodes]
    out = []
    for workload, genes in candidates:
        start = genes % len(names)
        chosen: list[str] = []
        for _ in range(workload.count):
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
        started = T0 + timedelta(minutes=genes // len(names) % 60)
        out.append(Placed(workload, tuple(chosen), started))
    return out


def make_quota(
    guaranteed: tuple[int, int, int], extra: tuple[int, int, int] | None, weight: float
) -> Quota:
    floor = Resources(guaranteed[0] * 1000, guaranteed[1] * GI, guaranteed[2])
    ceiling = None if extra is None else floor + Resources(extra[0] * 1000, extra[1] * GI, extra[2])
    return Quota(guaranteed=floor, max=ceiling, weight=weight)


AMOUNTS = st.tuples(st.integers(0, 32), st.integers(0, 128), st.integers(0, 8))
QUOTAS = st.dictionaries(
    st.sampled_from(TEAMS),
    st.builds(make_quota, AMOUNTS, st.none() | AMOUNTS, st.sampled_from([1.0, 0.5, 2.0])),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    nodes = [
        make_node(i, Genes(g)) for i, g in enumerate(draw(st.lists(GENES, min_size=1, max_size=20)))
    ]
    size = draw(st.integers(0, 40))
    running = place_all(  # those that do not fit are left out
        nodes,
        [
            (make_workload(f"r{i}", Genes(g), pending=False), g >> 40)
            for i, g in enumerate(draw(st.lists(GENES, min_size=size, max_size=size)))
        ],
    )
    size = draw(st.integers(1, 60))
    pending = [
        make_workload(f"p{i}", Genes(g), pending=True)
        for i, g in enumerate(draw(st.lists(GENES, min_size=size, max_size=size)))
    ]
    flags = Genes(draw(st.integers(0, 7)))
    policy = Policy(
        preemption=flags.pick((True, False)),
        backfill=flags.pick((True, False)),
        fair_share=flags.pick((False, True)),
    )
    return Scenario(nodes, running, pending, draw(QUOTAS), policy)


def survivors(scenario: Scenario, decisions: Decisions) -> list[Placed]:
    gone = {p.uid for p in decisions.preempt}
    return [p for p in scenario.running if p.workload.uid not in gone]


def admitted(scenario: Scenario, decisions: Decisions) -> list[Placed]:
    by_uid = {w.uid: w for w in scenario.pending}
    return [Placed(by_uid[a.uid], a.nodes) for a in decisions.admit]


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
def test_nothing_is_admitted_onto_room_a_preempted_workload_still_holds(
    scenario: Scenario,
) -> None:
    decisions = scenario.run()
    used: dict[str, Resources] = defaultdict(Resources)
    for placed in scenario.running + admitted(scenario, decisions):
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
    for team in {p.workload.team for p in admitted(scenario, decisions)}:
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
    decided = [a.uid for a in decisions.admit] + [w.uid for w in decisions.wait]
    assert sorted(decided) == sorted(w.uid for w in scenario.pending)
    assert [w.position for w in decisions.wait] == list(range(1, len(decisions.wait) + 1))
    assert all(w.reason for w in decisions.wait)

    running = {p.workload.uid: p.workload for p in scenario.running}
    pending = {w.uid: w for w in scenario.pending}
    waiting = {w.uid for w in decisions.wait}
    victims = [p.uid for p in decisions.preempt]
    assert len(victims) == len(set(victims))
    for preempt in decisions.preempt:
        assert running[preempt.uid].role is not Role.PROTECTED
        assert pending[preempt.by].role is not Role.ELASTIC
        assert preempt.by in waiting  # it waits for its victims to stop
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


# --- elastic first: one waiting workload on a random GPU cluster ----------------------------
#
# "Elastic first" cannot mean that no elastic replica is left running beside a regular victim:
# a replica that frees too little is rightly spared. It means a regular workload goes only
# when preempting every elastic replica would not have made room. With one waiting workload
# and replicas that each ask for some of every resource, that is a matter of counting.


def copies(replica: Resources, free: Resources) -> int:
    return min(f // r for f, r in zip(free.values(), replica.values(), strict=True))


def placeable(workload: Workload, nodes: Sequence[Node], running: Sequence[Placed]) -> bool:
    free = {n.name: n.allocatable for n in nodes}
    for placed in running:
        for name in placed.nodes:
            free[name] = free[name] - placed.workload.replica
    room = sum(copies(workload.replica, free[n.name]) for n in nodes if eligible(n, workload))
    return room >= workload.count


def make_gpu_workload(
    uid: str, genes: Genes, role: Role | None = None, lowest: int = 0
) -> Workload:
    role = role or genes.pick(ROLES)
    team = genes.pick(TEAMS)
    return Workload(
        uid=uid,
        ref=f"{role.value}/{team}/{uid}",
        team=team,
        priority=genes.integer(lowest, 3),
        replica=Resources(
            genes.pick((1000, 2000, 4000)), genes.pick((4, 8, 16)) * GI, genes.pick((1, 2, 4))
        ),
        count=1 if role is Role.ELASTIC else genes.integer(1, 3),
        queued_at=T0,
        role=role,
    )


@st.composite
def elastic_scenarios(draw: st.DrawFn) -> Scenario:
    sizes = draw(st.lists(st.sampled_from([2, 4, 8]), min_size=1, max_size=6))
    nodes = [Node(f"n{i}", Resources(32000, 128 * GI, s)) for i, s in enumerate(sizes)]
    size = draw(st.integers(1, 20))
    running = place_all(
        nodes,
        [
            (make_gpu_workload(f"r{i}", Genes(g)), g >> 40)
            for i, g in enumerate(draw(st.lists(GENES, min_size=size, max_size=size)))
        ],
    )
    waiting = make_gpu_workload("w", Genes(draw(GENES)), Role.REGULAR, lowest=1)
    quotas = draw(QUOTAS)
    return Scenario(nodes, running, [waiting], quotas, Policy(backfill=draw(st.booleans())))


@settings(max_examples=300, deadline=None)
@given(elastic_scenarios())
def test_regular_work_is_preempted_only_when_elastic_replicas_would_not_make_room(
    scenario: Scenario,
) -> None:
    decisions = scenario.run()
    roles = {p.workload.uid: p.workload.role for p in scenario.running}
    if any(roles[p.uid] is not Role.ELASTIC for p in decisions.preempt):
        without_elastic = [p for p in scenario.running if p.workload.role is not Role.ELASTIC]
        assert not placeable(scenario.pending[0], scenario.nodes, without_elastic)


# --- a guarantee is always reachable --------------------------------------------------------

UNIT = Resources(1000, GI, 1)  # every replica is one unit, so room is a matter of counting


@st.composite
def guarantee_scenarios(draw: st.DrawFn) -> Scenario:
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=8))
    nodes = [Node(f"n{i}", UNIT.times(s)) for i, s in enumerate(sizes)]
    total = sum(sizes)
    # Guarantees that together fit in the cluster; "research" is the team that asks.
    research = draw(st.integers(1, total))
    guarantees = {"research": research}
    left = total - research
    for team in TEAMS[1:]:
        guarantees[team] = draw(st.integers(0, left))
        left -= guarantees[team]
    quotas = {
        team: Quota(guaranteed=UNIT.times(g), weight=draw(st.sampled_from([1.0, 0.5, 2.0])))
        for team, g in guarantees.items()
    }

    def unit_work(uid: str, team: str, genes: Genes) -> Workload:
        return Workload(
            uid=uid,
            ref=f"job/{team}/{uid}",
            team=team,
            priority=genes.integer(0, 5),
            replica=UNIT,
            count=genes.integer(1, 3),
            queued_at=T0 + timedelta(minutes=genes.integer(0, 30)),
        )

    own = draw(st.lists(GENES, max_size=research - 1))
    others = draw(st.lists(st.tuples(st.sampled_from(TEAMS[1:]), GENES), max_size=3 * total))
    candidates = [(unit_work(f"mine{i}", "research", Genes(g)), g) for i, g in enumerate(own)]
    candidates += [(unit_work(f"r{i}", t, Genes(g)), g) for i, (t, g) in enumerate(others)]
    running = place_all(nodes, candidates)
    used = sum(p.workload.count for p in running if p.workload.team == "research")
    if used >= research:  # keep room within the guarantee for what it asks
        running = [p for p in running if p.workload.team != "research"]
        used = 0
    waiting = unit_work("w", "research", Genes(draw(GENES)))
    waiting = Workload(
        uid="w",
        ref="job/research/w",
        team="research",
        priority=waiting.priority,
        replica=UNIT,
        count=draw(st.integers(1, research - used)),
        queued_at=waiting.queued_at,
    )
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
