"""The scheduler's rules one by one: exact decisions, and wait reasons a researcher can read."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sapwood.server.controller.plan.scheduler import (
    Admit,
    Decisions,
    Policy,
    Preempt,
    Quota,
    Resources,
    Role,
    Wait,
    schedule,
)
from tests.unit.server.controller.scheduler.build import GI, NOW, cycle, job, node, on, res

PLENTY = res(cpu=1000, memory=10_000, gpus=1000)
ELASTIC = Role.ELASTIC
PROTECTED = Role.PROTECTED


# --- quotas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "running", "asking", "reason"),
    [
        pytest.param(
            Resources(100_000, 100 * GI, 4),
            {"gpus": 4},
            {"gpus": 1},
            "team research is at its gpu quota (4 of 4 in use; this needs 1 more)",
            id="gpu",
        ),
        pytest.param(
            Resources(100_000, 48 * GI, 100),
            {"memory": 40},
            {"memory": 16},
            "team research is at its memory quota (40Gi of 48Gi in use; this needs 16Gi more)",
            id="memory",
        ),
        pytest.param(
            Resources(2000, 100 * GI, 100),
            {"cpu": 1.5},
            {"cpu": 1},
            "team research is at its cpu quota (1500m of 2 in use; this needs 1 more)",
            id="cpu",
        ),
    ],
)
def test_a_team_at_its_max_waits_even_with_idle_capacity(
    limit: Resources, running: dict[str, Any], asking: dict[str, Any], reason: str
) -> None:
    decisions = cycle(
        [job("more", queued=5, **asking)],
        [on(job("held", **running), "g1")],
        [node("g1")],
        {"research": Quota(max=limit)},
    )
    assert decisions == Decisions(wait=[Wait("more", 1, reason)])


def test_a_team_borrows_beyond_its_guarantee_while_capacity_is_idle() -> None:
    quotas = {
        "research": Quota(guaranteed=res(16, 64, 2)),
        "vision": Quota(guaranteed=res(16, 64, 6)),
    }
    decisions = cycle([job("big", gpus=6)], [], [node("g1")], quotas)
    assert decisions == Decisions(admit=[Admit("big", ("g1",))])


def test_a_team_within_its_guarantee_reclaims_from_a_borrower_whatever_the_priority() -> None:
    quotas = {
        "research": Quota(guaranteed=res(32, 128, 4)),
        "vision": Quota(guaranteed=res(32, 128, 4)),
    }
    running = [
        on(job("early", priority=100, gpus=4), "g1", started=0),
        on(job("late", priority=100, gpus=4), "g1", started=10),
    ]
    decisions = cycle([job("v", team="vision", gpus=4)], running, [node("g1")], quotas)
    assert decisions == Decisions(
        preempt=[
            Preempt(
                "late",
                "v",
                "preempted by job/vision/v (team research is borrowing beyond its guarantee)",
            )
        ],
        wait=[Wait("v", 1, "waiting for 1 preempted workload(s) to stop: job/research/late")],
    )


def test_beyond_its_guarantee_a_team_cannot_take_back_room_from_equal_priority_work() -> None:
    quotas = {
        "research": Quota(guaranteed=res(32, 128, 4)),
        "vision": Quota(guaranteed=res(32, 128, 4)),
    }
    running = [on(job("a", gpus=4), "g1"), on(job("b", gpus=4), "g1", started=10)]
    decisions = cycle([job("v", team="vision", gpus=6)], running, [node("g1")], quotas)
    assert decisions == Decisions(
        wait=[Wait("v", 1, "needs 6 gpu; the largest free on any node is 0")]
    )


def test_a_team_does_not_reclaim_from_a_team_within_its_own_guarantee() -> None:
    quotas = {
        "research": Quota(guaranteed=res(32, 128, 8)),
        "vision": Quota(guaranteed=res(32, 128, 4)),
    }
    decisions = cycle(
        [job("v", team="vision", gpus=4)], [on(job("r", gpus=8), "g1")], [node("g1")], quotas
    )
    assert decisions.preempt == []
    assert decisions.wait == [Wait("v", 1, "needs 4 gpu; the largest free on any node is 0")]


# --- preemption by priority ---------------------------------------------------------------


def test_higher_priority_preempts_the_lowest_priority_first() -> None:
    running = [
        on(job("p1", priority=1, gpus=4), "g1", started=30),
        on(job("p0", priority=0, gpus=4), "g1", started=0),
    ]
    decisions = cycle([job("urgent", priority=5, gpus=4)], running, [node("g1")])
    assert decisions == Decisions(
        preempt=[Preempt("p0", "urgent", "preempted by job/research/urgent (priority 0 < 5)")],
        wait=[Wait("urgent", 1, "waiting for 1 preempted workload(s) to stop: job/research/p0")],
    )


def test_among_equal_priorities_the_most_recently_started_goes_first() -> None:
    running = [
        on(job("old", gpus=4), "g1", started=0),
        on(job("new", gpus=4), "g1", started=30),
    ]
    decisions = cycle([job("urgent", priority=5, gpus=4)], running, [node("g1")])
    assert [(p.uid, p.by) for p in decisions.preempt] == [("new", "urgent")]


def test_only_the_victims_needed_are_preempted() -> None:
    # The recent 1-GPU job is tried first but is not needed once the 2-GPU one goes.
    running = [
        on(job("two", gpus=2), "g1", started=0),
        on(job("one", gpus=1), "g1", started=30),
        on(job("rest", priority=3, gpus=5), "g1", started=0),
    ]
    decisions = cycle([job("urgent", priority=5, gpus=2)], running, [node("g1")])
    assert decisions == Decisions(
        preempt=[Preempt("two", "urgent", "preempted by job/research/urgent (priority 0 < 5)")],
        wait=[Wait("urgent", 1, "waiting for 1 preempted workload(s) to stop: job/research/two")],
    )


def test_a_gang_preempts_as_many_as_it_needs_and_names_them() -> None:
    running = [
        on(job("a", gpus=4), "g1", started=0),
        on(job("b", gpus=4), "g2", started=10),
        on(job("keep", priority=9, gpus=4), "g1", started=0),
    ]
    decisions = cycle(
        [job("gang", priority=5, gpus=4, count=2)], running, [node("g1"), node("g2", gpus=4)]
    )
    assert [(p.uid, p.by) for p in decisions.preempt] == [("b", "gang"), ("a", "gang")]
    assert decisions.wait == [
        Wait(
            "gang", 1, "waiting for 2 preempted workload(s) to stop: job/research/b, job/research/a"
        )
    ]


def test_equal_priority_never_preempts() -> None:
    decisions = cycle(
        [job("v", team="vision", priority=5, gpus=4)],
        [on(job("r", priority=5, gpus=8), "g1")],
        [node("g1")],
    )
    assert decisions == Decisions(
        wait=[Wait("v", 1, "needs 4 gpu; the largest free on any node is 0")]
    )


def test_without_preemption_nothing_is_preempted() -> None:
    decisions = cycle(
        [job("urgent", priority=5, gpus=4)],
        [on(job("low", gpus=8), "g1")],
        [node("g1")],
        preemption=False,
    )
    assert decisions == Decisions(
        wait=[Wait("urgent", 1, "needs 4 gpu; the largest free on any node is 0")]
    )


def test_protected_workspaces_are_never_preempted() -> None:
    workspace = job("ws", gpus=4, role=PROTECTED, kind="workspace")
    running = [on(workspace, "g1", started=30), on(job("train", priority=1, gpus=4), "g1")]
    decisions = cycle([job("urgent", priority=5, gpus=4)], running, [node("g1")])
    assert [(p.uid, p.by) for p in decisions.preempt] == [("train", "urgent")]

    alone = cycle([job("urgent", priority=5, gpus=4)], [on(workspace, "g1")], [node("g1", gpus=4)])
    assert alone == Decisions(
        wait=[Wait("urgent", 1, "needs 4 gpu; the largest free on any node is 0")]
    )


# --- elastic replicas -------------------------------------------------------------------


def test_elastic_replicas_are_reclaimed_first_whatever_their_priority() -> None:
    serve = job("serve#0", priority=100, gpus=4, role=ELASTIC, kind="service")
    running = [on(serve, "g1", started=0), on(job("train", gpus=4), "g1", started=30)]
    decisions = cycle([job("urgent", priority=1, gpus=4)], running, [node("g1")])
    assert decisions == Decisions(
        preempt=[
            Preempt(
                "serve#0", "urgent", "preempted by job/research/urgent (elastic replica reclaimed)"
            )
        ],
        wait=[
            Wait(
                "urgent", 1, "waiting for 1 preempted workload(s) to stop: service/research/serve#0"
            )
        ],
    )


def test_an_elastic_replica_that_would_not_free_enough_is_spared() -> None:
    # Reclaiming the 1-GPU replica as well would not be needed once the 4-GPU job goes.
    serve = job("serve#0", gpus=1, role=ELASTIC, kind="service")
    running = [
        on(serve, "g1", started=50),
        on(job("train", gpus=4), "g1"),
        on(job("ws", gpus=3, role=PROTECTED, kind="workspace"), "g1"),
    ]
    decisions = cycle([job("urgent", priority=5, gpus=4)], running, [node("g1")])
    assert [(p.uid, p.by) for p in decisions.preempt] == [("train", "urgent")]


def test_elastic_replicas_are_reclaimed_even_for_equal_priority_work() -> None:
    serve = job("serve#0", team="vision", priority=3, gpus=8, role=ELASTIC, kind="service")
    decisions = cycle([job("train", priority=3, gpus=2)], [on(serve, "g1")], [node("g1")])
    assert [(p.uid, p.by) for p in decisions.preempt] == [("serve#0", "train")]


def test_a_pending_elastic_replica_never_preempts_and_queues_last() -> None:
    serve = job("serve#1", priority=100, gpus=4, role=ELASTIC, kind="service")
    decisions = cycle(
        [serve, job("train", priority=0, gpus=4, queued=30)],
        [on(job("low", priority=0, gpus=8), "g1")],
        [node("g1")],
    )
    assert decisions == Decisions(
        wait=[
            Wait("train", 1, "needs 4 gpu; the largest free on any node is 0"),
            Wait(
                "serve#1",
                2,
                "needs 4 gpu; the largest free on any node is 0 "
                "(room is held for job/research/train, first in line)",
            ),
        ]
    )


def test_an_elastic_replica_takes_idle_capacity() -> None:
    serve = job("serve#1", priority=0, gpus=2, role=ELASTIC, kind="service")
    decisions = cycle([serve], [on(job("train", gpus=4), "g1")], [node("g1")])
    assert decisions == Decisions(admit=[Admit("serve#1", ("g1",))])


# --- placement ------------------------------------------------------------------------------


def test_a_gang_is_admitted_whole_across_nodes() -> None:
    nodes = [node("n1", gpus=4), node("n2", gpus=4), node("n3", gpus=4)]
    running = [on(job("busy", priority=9, gpus=2), "n2")]
    decisions = cycle([job("gang", gpus=4, count=2)], running, nodes)
    assert decisions == Decisions(admit=[Admit("gang", ("n1", "n3"))])


def test_a_gang_that_cannot_place_every_replica_places_none() -> None:
    nodes = [node("n1", gpus=4), node("n2", gpus=4), node("n3", gpus=4)]
    running = [
        on(job("x", priority=9, gpus=2), "n2"),
        on(job("y", priority=9, gpus=2), "n3"),
    ]
    # 8 GPUs are free in total, but only one node has 4 of them.
    decisions = cycle([job("gang", gpus=4, count=2)], running, nodes)
    assert decisions == Decisions(
        wait=[
            Wait(
                "gang",
                1,
                "needs room for all 2 replicas at once (2 cpu, 8Gi memory, 8 gpu); "
                "free in total: 190 cpu, 760Gi memory, 8 gpu",
            )
        ]
    )


def test_best_fit_keeps_whole_gpu_nodes_for_large_gangs() -> None:
    nodes = [node("roomy"), node("half"), node("busy")]
    running = [
        on(job("h", priority=9, gpus=4), "half"),
        on(job("b", priority=9, gpus=6), "busy"),
    ]
    pending = [job("one", gpus=1, queued=0), job("whole", gpus=8, queued=1)]
    decisions = cycle(pending, running, nodes)
    assert decisions == Decisions(admit=[Admit("one", ("busy",)), Admit("whole", ("roomy",))])


def test_cpu_only_work_is_placed_first_fit_on_a_node_without_gpus() -> None:
    nodes = [node("g1"), node("c1", gpus=0), node("c2", gpus=0)]
    decisions = cycle([job("etl", cpu=8, count=2)], [], nodes)
    assert decisions == Decisions(admit=[Admit("etl", ("c1", "c1"))])


def test_node_selector_and_gpu_model_pick_eligible_nodes() -> None:
    nodes = [
        node("h1", model="h100", labels={"pool": "train"}),
        node("a1", model="a100", labels={"pool": "train"}),
    ]
    pending = [
        job("on-a100", gpus=1, model="a100", queued=0),
        job("in-pool", gpus=1, selector={"pool": "train"}, queued=1),
        job("no-pool", gpus=1, selector={"pool": "serve"}, queued=2),
        job("no-label", gpus=1, selector={"gpu": "a100"}, queued=3),
        job("no-model", gpus=1, model="b200", queued=4),
    ]
    decisions = cycle(pending, [], nodes)
    assert decisions == Decisions(
        admit=[Admit("on-a100", ("a1",)), Admit("in-pool", ("a1",))],  # best fit: a1 has fewer free
        wait=[
            Wait("no-pool", 1, "no node matches pool=serve"),
            Wait("no-label", 2, "no node matches gpu=a100"),
            Wait("no-model", 3, "no node matches gpu model=b200"),
        ],
    )
    # Only more capacity can change that: the controller leaves them out until it comes.
    assert all(wait.impossible for wait in decisions.wait)


def test_work_that_waits_only_for_room_is_not_impossible() -> None:
    nodes = [node("h1", gpus=4)]
    pending = [job("first", gpus=4, queued=0), job("second", gpus=4, queued=1)]
    decisions = cycle(pending, [], nodes)
    assert [w.uid for w in decisions.wait] == ["second"]
    assert not decisions.wait[0].impossible


@pytest.mark.parametrize(
    ("asking", "reason"),
    [
        ({"gpus": 8}, "needs 8 gpu per replica; the largest node has 4"),
        ({"memory": 512}, "needs 512Gi memory per replica; the largest node has 256Gi"),
        ({"cpu": 96}, "needs 96 cpu per replica; the largest node has 64"),
    ],
)
def test_a_replica_larger_than_any_node_says_so(asking: dict[str, Any], reason: str) -> None:
    decisions = cycle([job("huge", **asking)], [], [node("n1", gpus=4), node("n2", gpus=4)])
    assert decisions == Decisions(wait=[Wait("huge", 1, reason)])


def test_a_gang_larger_than_the_cluster_says_so() -> None:
    decisions = cycle([job("gang", gpus=4, count=3)], [], [node("n1", gpus=4), node("n2", gpus=4)])
    assert decisions == Decisions(
        wait=[
            Wait(
                "gang",
                1,
                "needs 3 cpu, 12Gi memory, 12 gpu for all 3 replicas at once, "
                "more than the whole cluster has (128 cpu, 512Gi memory, 8 gpu)",
            )
        ]
    )


def test_waiting_for_memory_names_the_largest_free_memory() -> None:
    decisions = cycle(
        [job("big", memory=64)],
        [on(job("held", priority=9, memory=34), "m1")],
        [node("m1", gpus=0, memory=64)],
    )
    assert decisions == Decisions(
        wait=[Wait("big", 1, "needs 64Gi memory; the largest free on any node is 30Gi")]
    )


# --- backfill -------------------------------------------------------------------------------


def backfill_case(**policy: bool) -> Decisions:
    """6 of 8 GPUs held; the head wants 4; behind it a CPU-only job and a 1-GPU job."""
    running = [on(job("held", priority=9, cpu=16, memory=64, gpus=6), "g1")]
    pending = [
        job("head", cpu=8, memory=32, gpus=4, queued=0),
        job("cpu-only", cpu=8, memory=16, queued=1),
        job("one-gpu", cpu=2, memory=8, gpus=1, queued=2),
        job("cpu-hog", cpu=36, memory=8, queued=3),
    ]
    return cycle(pending, running, [node("g1")], **policy)


def test_backfill_admits_what_fits_beyond_the_heads_reservation_only() -> None:
    # Reserved for the head: 8 cpu, 32Gi, 2 gpu (all it could use of what is free now).
    held = " (room is held for job/research/head, first in line)"
    assert backfill_case() == Decisions(
        admit=[Admit("cpu-only", ("g1",))],
        wait=[
            Wait("head", 1, "needs 4 gpu; the largest free on any node is 2"),
            Wait(
                "one-gpu",
                2,
                "needs 2 cpu, 8Gi memory, 1 gpu; free in total: 40 cpu, 176Gi memory, 2 gpu" + held,
            ),
            Wait(
                "cpu-hog",
                3,
                "needs 36 cpu, 8Gi memory; free in total: 40 cpu, 176Gi memory, 2 gpu" + held,
            ),
        ],
    )


def test_without_backfill_everything_behind_the_head_waits() -> None:
    assert backfill_case(backfill=False) == Decisions(
        wait=[
            Wait("head", 1, "needs 4 gpu; the largest free on any node is 2"),
            Wait("cpu-only", 2, "waiting behind job/research/head"),
            Wait("one-gpu", 3, "waiting behind job/research/head"),
            Wait("cpu-hog", 4, "waiting behind job/research/head"),
        ],
    )


# --- order ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fair_share", "weights", "admitted"),
    [
        pytest.param(False, {}, "r1", id="oldest-first"),
        pytest.param(True, {}, "v1", id="fair-share-smaller-share-first"),
        pytest.param(True, {"research": 4.0}, "r1", id="fair-share-weighted"),
    ],
)
def test_fair_share_serves_the_team_with_the_smaller_weighted_dominant_share(
    fair_share: bool, weights: dict[str, float], admitted: str
) -> None:
    # research holds 4 of 8 GPUs, vision 2; room for one more 2-GPU job.
    running = [
        on(job("r0", gpus=4), "g1"),
        on(job("v0", team="vision", gpus=2), "g1"),
    ]
    pending = [
        job("r1", gpus=2, queued=0),
        job("v1", team="vision", gpus=2, queued=5),
    ]
    quotas = {team: Quota(weight=w) for team, w in weights.items()}
    decisions = cycle(pending, running, [node("g1")], quotas, fair_share=fair_share)
    waiting = "v1" if admitted == "r1" else "r1"
    assert decisions == Decisions(
        admit=[Admit(admitted, ("g1",))],
        wait=[Wait(waiting, 1, "needs 2 gpu; the largest free on any node is 0")],
    )


def test_higher_priority_is_admitted_before_older_work() -> None:
    pending = [job("old", gpus=4, queued=0), job("important", priority=2, gpus=4, queued=9)]
    decisions = cycle(pending, [], [node("g1", gpus=4)])
    assert decisions.admit == [Admit("important", ("g1",))]
    assert [w.uid for w in decisions.wait] == ["old"]


def test_positions_count_1_to_n_in_queue_order() -> None:
    pending = [
        job("a", priority=1, gpus=1, queued=10),
        job("b", priority=3, gpus=1, queued=20),
        job("c", priority=1, gpus=1, queued=0),
        job("e#0", priority=9, gpus=1, role=ELASTIC, kind="service"),
        job("d", priority=3, gpus=1, queued=5),
        job("q", team="vision", priority=3, gpus=1, queued=1),
    ]
    quotas = {"vision": Quota(max=res(100, 100, 0))}
    decisions = cycle(pending, [on(job("full", priority=9, gpus=8), "g1")], [node("g1")], quotas)
    assert decisions.admit == []
    assert decisions.preempt == []
    # Within a priority, work within its team's guarantee comes before work that would
    # borrow (q: team vision has no guarantee), then the older first.
    assert [(w.uid, w.position) for w in decisions.wait] == [
        ("d", 1),
        ("b", 2),
        ("q", 3),
        ("c", 4),
        ("a", 5),
        ("e#0", 6),
    ]
    assert decisions.wait[2].reason == (
        "team vision is at its gpu quota (0 of 0 in use; this needs 1 more)"
    )
    assert decisions.wait[0].reason == "needs 1 gpu; the largest free on any node is 0"
    assert all(
        w.reason.endswith("(room is held for job/research/d, first in line)")
        for w in decisions.wait[1:]
        if w.uid != "q"
    )


# --- found by these tests (regressions) ----------------------------------------------------


def test_a_pinned_job_finding_no_victims_does_not_stop_an_unpinned_one() -> None:
    # Same priority and shape: a search that failed for the a100-only job must not be
    # taken as failed for one that may run anywhere.
    nodes = [node("h", gpus=4, model="h100"), node("a", gpus=4, model="a100")]
    running = [
        on(job("ws", gpus=4, role=PROTECTED, kind="workspace"), "a"),
        on(job("low", gpus=4), "h"),
    ]
    pending = [
        job("pinned", priority=5, gpus=4, model="a100", queued=0),
        job("free", priority=5, gpus=4, queued=1),
    ]
    decisions = cycle(pending, running, nodes)
    assert decisions.preempt == [
        Preempt("low", "free", "preempted by job/research/free (priority 0 < 5)")
    ]


def test_victims_holding_only_cpu_are_considered_when_the_gpu_node_lacks_cpu() -> None:
    # The cluster is short of GPUs only, but the GPU node also needs the CPU an elastic
    # replica holds there.
    nodes = [node("g1", cpu=32), node("c1", gpus=0)]
    running = [
        on(job("serve#0", priority=5, cpu=28, memory=8, role=ELASTIC, kind="service"), "g1"),
        on(job("train", cpu=4, memory=32, gpus=8), "g1"),
    ]
    decisions = cycle([job("urgent", priority=10, cpu=16, memory=64, gpus=8)], running, nodes)
    assert {(p.uid, p.by) for p in decisions.preempt} == {
        ("serve#0", "urgent"),
        ("train", "urgent"),
    }


def test_room_of_a_victim_still_running_is_not_admitted_to_others() -> None:
    running = [on(job("low", gpus=8), "g1")]
    pending = [
        job("urgent", priority=10, gpus=4, queued=0),
        job("next", priority=5, gpus=4, queued=1),
    ]
    decisions = cycle(pending, running, [node("g1")])
    assert [(p.uid, p.by) for p in decisions.preempt] == [("low", "urgent")]
    assert decisions.admit == []
    assert [w.uid for w in decisions.wait] == ["urgent", "next"]


def test_free_room_a_preemptor_needs_is_held_for_it() -> None:
    # urgent needs 6: the 2 GPUs free now and the 4 that low frees when it stops.
    running = [on(job("low", gpus=4), "g1"), on(job("keep", priority=9, gpus=2), "g1")]
    pending = [
        job("urgent", priority=10, gpus=6, queued=0),
        job("small", priority=5, gpus=2, queued=1),
    ]
    decisions = cycle(pending, running, [node("g1")])
    assert [(p.uid, p.by) for p in decisions.preempt] == [("low", "urgent")]
    assert decisions.admit == []


def test_elastic_replicas_go_before_regular_work_even_when_it_holds_the_scarce_gpus() -> None:
    nodes = [node("g1", cpu=32), node("g2", cpu=32)]
    running = [
        on(job("e1#0", priority=5, cpu=2, memory=8, gpus=8, role=ELASTIC, kind="service"), "g1"),
        on(job("e2#0", priority=5, cpu=28, memory=8, role=ELASTIC, kind="service"), "g1"),
        on(job("r", cpu=4, memory=8, gpus=8), "g2"),
    ]
    decisions = cycle([job("urgent", priority=10, cpu=16, memory=16, gpus=8)], running, nodes)
    assert {p.uid for p in decisions.preempt} == {"e1#0", "e2#0"}


def test_a_borrower_preempted_for_a_guarantee_does_not_take_the_room_back() -> None:
    # research borrows the whole node; vision is guaranteed half of it.
    quotas = {"research": Quota(guaranteed=res(0, 0, 4)), "vision": Quota(guaranteed=res(0, 0, 4))}
    borrower = job("b", team="research", gpus=4, queued=0)
    running = [on(job("a", team="research", gpus=4), "g1"), on(borrower, "g1", started=5)]
    claim = job("v", team="vision", gpus=4, queued=10)
    first = cycle([claim], running, [node("g1")], quotas)
    assert [(p.uid, p.by) for p in first.preempt] == [("b", "v")]
    # Next cycle: b has stopped and is queued again, older than v; v still goes first.
    second = cycle([borrower, claim], running[:1], [node("g1")], quotas)
    assert [a.uid for a in second.admit] == ["v"]
    assert [w.uid for w in second.wait] == ["b"]


def test_work_held_back_only_by_the_heads_reservation_preempts_nobody() -> None:
    running = [on(job("peer", priority=5, gpus=4), "g1"), on(job("lowest", gpus=1), "g1")]
    pending = [
        job("head", priority=5, gpus=8, count=2, queued=0),  # needs both nodes whole
        job("small", priority=5, gpus=1, queued=1),  # could preempt "lowest", must not
    ]
    decisions = cycle(pending, running, [node("g1"), node("g2")])
    assert decisions.preempt == []
    assert decisions.admit == []
    small = next(w for w in decisions.wait if w.uid == "small")
    assert small.reason.endswith("(room is held for job/research/head, first in line)")


def test_service_levels_put_less_served_work_first_and_let_it_preempt() -> None:
    served = dataclasses.replace(job("served", gpus=8), attained_s=7200.0)
    fresh = job("fresh", gpus=8, queued=30)
    older = dataclasses.replace(job("older", gpus=8, queued=0), attained_s=5000.0)
    decisions = schedule(
        [older, fresh],
        [on(served, "g1")],
        [node("g1")],
        {},
        now=NOW,
        policy=Policy(service_levels=(3600.0,)),
    )
    # fresh (level 0) comes before older (level 1) and preempts served (level 1).
    assert [(p.uid, p.by) for p in decisions.preempt] == [("served", "fresh")]
    assert [w.uid for w in decisions.wait] == ["fresh", "older"]
    plain = cycle([older, fresh], [on(served, "g1")], [node("g1")])
    assert plain.preempt == []
    assert [w.uid for w in plain.wait] == ["older", "fresh"]
