"""FCFS admission by free capacity: scheduler.admit, and admission.decide feeding it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sapwood.server.controller import admission
from sapwood.server.controller.scheduler import Admitted, Request, Waiting, Waits, admit
from sapwood.server.runtimes.base import Capacity
from tests.unit.server.controller.views import T0, running, view

GI = 1024**3
CAPACITY = Request(cpu_millis=4000, memory_bytes=8 * GI, gpus=1)


def waiting(uid: str, cpu: int, memory_gi: int = 1, gpus: int = 0, *, age_s: int = 0) -> Waiting:
    return Waiting(
        uid,
        f"job/research/{uid}",
        Request(cpu, memory_gi * GI, gpus),
        T0 - timedelta(seconds=age_s),
    )


@pytest.mark.parametrize(
    ("items", "allocated", "expected"),
    [
        pytest.param([waiting("a", 1000)], Request(), [Admitted("a")], id="fits"),
        pytest.param(
            [waiting("a", 4000, 8, 1)], Request(), [Admitted("a")], id="exactly-the-capacity"
        ),
        pytest.param(
            [waiting("a", 2000)],
            Request(3000, 1 * GI),
            [
                Waits(
                    "a",
                    "waiting for capacity: needs 2 cpu, 1Gi memory, free 1 cpu, 7Gi memory, 1 gpu",
                )
            ],
            id="waits-naming-needs-and-free",
        ),
        pytest.param(
            [waiting("a", 1000, gpus=1)],
            Request(0, 0, 1),
            [
                Waits(
                    "a",
                    "waiting for capacity: needs 1 cpu, 1Gi memory, 1 gpu, free 4 cpu, 8Gi memory",
                )
            ],
            id="waits-for-a-gpu",
        ),
        pytest.param(
            [waiting("a", 16000)],
            Request(),
            [
                Waits(
                    "a",
                    "needs 16 cpu, 1Gi memory, more than the whole capacity "
                    "(4 cpu, 8Gi memory, 1 gpu)",
                )
            ],
            id="never-fits",
        ),
        pytest.param(
            [waiting("young", 3000, age_s=1), waiting("old", 3000, age_s=60)],
            Request(),
            [
                Admitted("old"),
                Waits(
                    "young",
                    "waiting for capacity: needs 3 cpu, 1Gi memory, free 1 cpu, 7Gi memory, 1 gpu",
                ),
            ],
            id="oldest-first",
        ),
        pytest.param(
            [waiting("big", 3000, age_s=60), waiting("small", 500, age_s=1)],
            Request(2000, 0),
            [
                Waits(
                    "big",
                    "waiting for capacity: needs 3 cpu, 1Gi memory, free 2 cpu, 8Gi memory, 1 gpu",
                ),
                Admitted("small"),
            ],
            id="a-later-one-that-fits-is-not-held-back",
        ),
        pytest.param(
            [waiting("a", 1500, age_s=3), waiting("b", 1500, age_s=2), waiting("c", 1500)],
            Request(),
            [
                Admitted("a"),
                Admitted("b"),
                Waits(
                    "c",
                    "waiting for capacity: needs 1500m cpu, 1Gi memory, "
                    "free 1 cpu, 6Gi memory, 1 gpu",
                ),
            ],
            id="each-admission-uses-up-capacity",
        ),
    ],
)
def test_admit(items: list[Waiting], allocated: Request, expected: list[object]) -> None:
    assert admit(items, capacity=CAPACITY, allocated=allocated) == expected


def test_ties_in_queue_time_are_broken_by_uid_whatever_the_input_order() -> None:
    items = [waiting(uid, 3000) for uid in ("c", "a", "b")]
    first = admit(items, capacity=CAPACITY, allocated=Request())
    assert admit(list(reversed(items)), capacity=CAPACITY, allocated=Request()) == first
    assert first[0] == Admitted("a")
    assert [type(d) for d in first] == [Admitted, Waits, Waits]


def test_request_arithmetic() -> None:
    one = Request(500, GI, 1)
    assert one.times(3) == Request(1500, 3 * GI, 3)
    assert one + one - one == one
    assert one.fits_in(Request(500, GI, 1))
    assert not one.fits_in(Request(500, GI, 0))


def test_a_gang_is_admitted_whole_or_not_at_all() -> None:
    """Four 1-cpu workers with three cpus free wait together; none starts alone."""
    gang = view("Job", "gang", command=["train"], replicas=4, resources={"cpu": "1"})
    holder = view("Job", "holder", command=["x"], resources={"cpu": "1", "memory": "1Gi"})
    holder = replace(holder, status={"phase": "Running"})
    capacity = Capacity(cpu_millis=4000, memory_bytes=16 * GI, gpus=0)

    decisions = admission.decide([holder, gang], {}, capacity=capacity, now=T0)

    assert set(decisions) == {gang.uid}
    status = decisions[gang.uid].status
    assert status["phase"] == "Pending"
    assert status["reason"] == "Waiting"
    assert status["message"] == (
        "waiting for capacity: needs 4 cpu, 2Gi memory, free 3 cpu, 15Gi memory"
    )


def test_admission_counts_running_units_of_any_phase_as_allocated() -> None:
    """A job whose status lags (still Pending) but whose unit runs holds its resources."""
    lagging = view("Job", "lagging", command=["x"], resources={"cpu": "3"})
    newcomer = view("Job", "newcomer", command=["x"], resources={"cpu": "2"})
    units = {("Job", "research", "lagging"): {0: running(lagging.key(0))}}
    capacity = Capacity(cpu_millis=4000, memory_bytes=16 * GI, gpus=0)

    decisions = admission.decide([lagging, newcomer], units, capacity=capacity, now=T0)

    assert list(decisions) == [newcomer.uid]
    assert decisions[newcomer.uid].status["phase"] == "Pending"


def test_admitted_status_records_the_allocation_and_says_so() -> None:
    job = view("Job", "train", command=["x"], replicas=2, resources={"cpu": "1", "memory": "2Gi"})
    capacity = Capacity(cpu_millis=4000, memory_bytes=16 * GI, gpus=0)

    decision = admission.decide([job], {}, capacity=capacity, now=T0)[job.uid]

    assert decision.status["phase"] == "Admitted"
    assert decision.status["admittedAt"] == T0.isoformat()
    assert decision.status["allocated"] == {"cpu": "2", "memory": "4Gi", "gpu": 0}
    assert [n.reason for n in decision.notes] == ["Admitted"]


def test_an_unchanged_waiting_reason_is_not_written_again() -> None:
    big = view("Job", "big", command=["x"], resources={"cpu": "64"})
    capacity = Capacity(cpu_millis=4000, memory_bytes=16 * GI, gpus=0)
    first = admission.decide([big], {}, capacity=capacity, now=T0)[big.uid]
    again = replace(big, status=first.status)

    assert admission.decide([again], {}, capacity=capacity, now=T0) == {}


# Property: admission never over-commits, and is the greedy FCFS result.

requests = st.builds(
    Request,
    cpu_millis=st.integers(0, 8000),
    memory_bytes=st.integers(0, 16).map(lambda n: n * GI),
    gpus=st.integers(0, 2),
)
queue = st.lists(st.tuples(requests, st.integers(0, 5)), max_size=12).map(
    lambda items: [
        Waiting(f"u{i:02d}", f"job/t/u{i}", r, T0 + timedelta(seconds=s))
        for i, (r, s) in enumerate(items)
    ]
)


@given(
    items=queue,
    capacity=requests,
    used=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
)
def test_admit_never_overcommits_and_is_greedy_fcfs(
    items: list[Waiting], capacity: Request, used: tuple[float, float, float]
) -> None:
    allocated = Request(
        int(capacity.cpu_millis * used[0]),
        int(capacity.memory_bytes * used[1]),
        int(capacity.gpus * used[2]),
    )
    decisions = admit(items, capacity=capacity, allocated=allocated)

    ordered = sorted(items, key=lambda w: (w.queued_at, w.uid))
    assert [d.uid for d in decisions] == [w.uid for w in ordered]
    pairs = list(zip(ordered, decisions, strict=True))
    total = sum((w.request for w, d in pairs if isinstance(d, Admitted)), start=allocated)
    assert total.fits_in(capacity)

    free = capacity - allocated
    for item, decision in pairs:
        fits = item.request.fits_in(free)
        assert isinstance(decision, Admitted) == fits, (item, decision, free)
        if fits:
            free = free - item.request
        else:
            assert isinstance(decision, Waits)
            assert decision.reason
    assert admit(list(reversed(items)), capacity=capacity, allocated=allocated) == decisions
