"""From objects to the scheduler's view: what holds room, and what waits for it."""

from __future__ import annotations

from sapwood.server.controller.plan.admission import Inputs, decide, workloads
from sapwood.server.controller.plan.rollout import SURGE
from sapwood.server.controller.plan.scheduler import Policy, Resources
from sapwood.server.runtimes.base import Capacity, UnitKey, UnitState
from tests.unit.server.controller.views import T0, TEAM, running, view

SERVING = {"phase": "Running", "admittedAt": T0.isoformat()}
WEB = {
    "command": ["serve"],
    "replicas": {"min": 2, "max": 2},
    "resources": {"cpu": "1", "memory": "1Gi"},
}


def _service_units(*replicas: int) -> dict[int, UnitState]:
    return {i: running(UnitKey("Service", TEAM, "web", i)) for i in replicas}


def test_a_running_surge_holds_the_room_of_one_more_replica() -> None:
    web = view("Service", "web", status=SERVING, **WEB)
    units = {("Service", TEAM, "web"): _service_units(0, 1, SURGE)}

    _, placed = workloads([web], units, {}, T0)

    assert [p.workload.request for p in placed] == [Resources(3000, 3 * 2**30, 0)]


def test_no_surge_no_extra_room() -> None:
    web = view("Service", "web", status=SERVING, **WEB)
    units = {("Service", TEAM, "web"): _service_units(0, 1)}

    _, placed = workloads([web], units, {}, T0)

    assert [p.workload.request for p in placed] == [Resources(2000, 2 * 2**30, 0)]


def test_a_job_waits_while_a_surge_uses_the_last_core() -> None:
    web = view("Service", "web", status=SERVING, **WEB)
    train = view("Job", "train", command=["python", "t.py"], resources={"cpu": "1"})
    inputs = Inputs(
        capacity=Capacity(cpu_millis=3000, memory_bytes=2**34, gpus=0),
        quotas={},
        priorities={},
        policy=Policy(),
    )
    during = {("Service", TEAM, "web"): _service_units(0, 1, SURGE)}
    after = {("Service", TEAM, "web"): _service_units(0, 1)}

    waiting = decide([web, train], during, inputs=inputs, now=T0).admissions
    admitted = decide([web, train], after, inputs=inputs, now=T0).admissions

    assert waiting["uid-train"].status["phase"] == "Pending"
    assert admitted["uid-train"].status["phase"] == "Admitted"


def test_work_that_fits_nowhere_is_named_for_parking_and_left_out_once_parked() -> None:
    big = view("Job", "big", command=["python", "t.py"], resources={"cpu": "1", "gpu": 1})
    small = view("Job", "small", command=["python", "t.py"], resources={"cpu": "1"})
    inputs = Inputs(
        capacity=Capacity(cpu_millis=3000, memory_bytes=2**34, gpus=0),
        quotas={},
        priorities={},
        policy=Policy(),
    )

    first = decide([big, small], {}, inputs=inputs, now=T0)
    assert first.impossible == {"uid-big"}
    assert "queuePosition" not in first.admissions["uid-big"].status  # no turn to wait for
    assert first.admissions["uid-small"].status["phase"] == "Admitted"

    parked = decide([big], {}, inputs=inputs, now=T0, parked=first.impossible)
    assert parked.admissions == {}
