"""plan_service and plan_workspace: N replicas kept up, each supervised on its own."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.rollout import SURGE
from sapwood.server.controller.plan.service import plan_service
from sapwood.server.controller.plan.units import CANARY_FIRST
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.controller.plan.workspace import plan_workspace
from sapwood.server.runtimes.base import UnitKey, UnitReason, UnitState
from sapwood.specs.objects import Service
from tests.unit.server.controller.views import (
    CONTEXT,
    T0,
    after,
    exited,
    reasons,
    replica,
    running,
    view,
)

ADMITTED = {"phase": "Admitted", "reason": "Admitted"}
READINESS = {"http": {"path": "/ready"}}


def plan(
    svc: ObjectView,
    units: dict[int, UnitState],
    now: datetime = T0,
    health: Mapping[UnitKey, Health] | None = None,
) -> Plan:
    return plan_service(svc, units, now=now, context=CONTEXT, health=health or {})


def service(replicas: int = 2, *, generation: int = 1, **spec: Any) -> ObjectView:
    return view(
        "Service",
        "web",
        generation=generation,
        status=dict(ADMITTED),
        command=["serve"],
        replicas=replicas,
        **spec,
    )


def serving(
    svc: ObjectView, *, since: datetime = T0, health: Mapping[UnitKey, Health] | None = None
) -> tuple[ObjectView, dict[int, UnitState]]:
    """The service once its replicas started and were observed running."""
    first = plan(svc, {})
    count = len(first.starts)
    svc = after(svc, first)
    units = {
        i: running(svc.key(i), started=since, port=20000 + i, generation=svc.generation)
        for i in range(count)
    }
    svc = after(svc, plan(svc, units, since + timedelta(seconds=1), health))
    return svc, units


def test_an_admitted_service_starts_every_replica() -> None:
    result = plan(service(3), {})
    assert [u.key.replica for u in result.starts] == [0, 1, 2]
    assert all(u.wants_port for u in result.starts)
    assert result.status is not None
    assert result.status["phase"] == "Running"
    assert result.status["target"] == {"replicas": 3}


def test_without_a_readiness_probe_running_replicas_are_ready() -> None:
    svc, _ = serving(service(2))
    assert svc.status["readyReplicas"] == 2
    assert svc.status["message"] == "2/2 replicas ready"
    assert svc.status["endpoints"] == ["127.0.0.1:20000", "127.0.0.1:20001"]


def test_a_replica_whose_node_stopped_reporting_takes_no_traffic() -> None:
    svc, units = serving(service(2))
    lost = replace(units[1], reason=UnitReason.NODE_LOST, message="node-b stopped reporting")

    seen = plan(svc, {**units, 1: lost}, T0 + timedelta(minutes=1))

    assert seen.status is not None
    assert seen.status["readyReplicas"] == 1
    assert seen.status["endpoints"] == ["127.0.0.1:20000"]
    assert [e.message for e in seen.events] == [
        "replica 1 NodeLost: node-b stopped reporting; replacing it"
    ]
    assert seen.stops == [svc.key(1)]


def test_a_replica_waiting_for_its_volume_is_not_ready_and_not_stopped() -> None:
    svc, units = serving(service(2))
    waiting = replace(units[0], reason="FailedAttachVolume", message="Multi-Attach error")

    seen = plan(svc, {**units, 0: waiting}, T0 + timedelta(minutes=1))

    assert seen.status is not None
    assert seen.status["readyReplicas"] == 1
    assert seen.stops == []


def test_a_crashed_replica_restarts_alone_after_its_backoff() -> None:
    svc, units = serving(service(2))
    units[1] = exited(svc.key(1), 137, reason=UnitReason.KILLED, started=T0)
    crash_seen = T0 + timedelta(minutes=1)

    seen = plan(svc, units, crash_seen)

    assert seen.starts == []
    assert seen.stops == []
    assert reasons(seen) == ["BackOff"]
    assert "replica 1 exited with code 137 (Killed); restarting in 10s" in seen.events[0].message
    assert replica(seen.status, 1)["state"] == "BackOff"
    assert replica(seen.status, 1)["restarts"] == 1
    assert replica(seen.status, 0) == replica(svc.status, 0)
    assert seen.status is not None
    assert seen.status["readyReplicas"] == 1
    svc = after(svc, seen)

    assert plan(svc, units, crash_seen + timedelta(seconds=9)).starts == []
    due = plan(svc, units, crash_seen + timedelta(seconds=10))
    assert [u.key for u in due.starts] == [svc.key(1)]
    assert due.stops == []


def test_repeated_crashes_double_the_delay() -> None:
    svc, units = serving(service(1))
    delays = []
    now = T0
    for _ in range(3):
        now += timedelta(seconds=30)
        units[0] = exited(svc.key(0), 1, started=now - timedelta(seconds=1))
        seen = plan(svc, units, now)
        delays.append(seen.events[0].message.rsplit(" ", 1)[-1])
        svc = after(svc, seen)
    assert delays == ["10s", "20s", "40s"]


@pytest.mark.parametrize(
    ("ran", "delay"),
    [(timedelta(minutes=1), "80s"), (timedelta(minutes=10), "10s")],
    ids=["crash-soon-after-start-keeps-backoff", "ten-healthy-minutes-reset-backoff"],
)
def test_backoff_resets_after_a_healthy_stretch(ran: timedelta, delay: str) -> None:
    svc, _ = serving(service(1))
    records = [{**replica(svc.status, 0), "backoff": 3, "restarts": 3}]
    svc = after(svc, Plan(status={**svc.status, "replicas": records}))
    started = T0 + timedelta(hours=1)
    units = {0: running(svc.key(0), started=started, port=20000)}
    svc = after(svc, plan(svc, units, started + ran))

    units[0] = exited(svc.key(0), 1, started=started)
    crash = plan(svc, units, started + ran + timedelta(seconds=1))

    assert crash.events[0].message.endswith(f"restarting in {delay}")


def test_a_failing_liveness_probe_stops_only_that_replica() -> None:
    svc, units = serving(service(2, liveness=READINESS))
    health = {svc.key(1): Health(ready=True, live=False, message="HTTP 500 from /ready")}

    result = plan(svc, units, T0 + timedelta(minutes=1), health)

    assert result.stops == [svc.key(1)]
    assert result.starts == []
    assert reasons(result) == ["ProbeFailed"]
    assert result.events[0].warning
    assert "replica 1 liveness: HTTP 500 from /ready" in result.events[0].message
    assert replica(result.status, 1)["ready"] is False


def test_readiness_gates_ready_replicas_and_endpoints() -> None:
    svc, units = serving(service(2, readiness=READINESS))
    assert svc.status["readyReplicas"] == 0  # not probed yet

    health = {
        svc.key(0): Health(ready=True),
        svc.key(1): Health(ready=False, message="HTTP 503 from /ready"),
    }
    result = plan(svc, units, T0 + timedelta(seconds=5), health)

    assert result.status is not None
    assert result.status["readyReplicas"] == 1
    assert result.status["message"] == "1/2 replicas ready"
    assert result.status["endpoints"] == ["127.0.0.1:20000"]
    assert reasons(result) == ["Ready"]
    assert result.stops == []


def test_a_replica_losing_readiness_is_reported_not_restarted() -> None:
    ready = {0: Health(ready=True), 1: Health(ready=True)}
    svc, units = serving(service(2, readiness=READINESS))
    svc = after(svc, plan(svc, units, T0, {svc.key(i): h for i, h in ready.items()}))

    health = {svc.key(0): Health(ready=True), svc.key(1): Health(ready=False, message="slow")}
    result = plan(svc, units, T0 + timedelta(seconds=10), health)

    assert reasons(result) == ["NotReady"]
    assert result.events[0].warning
    assert result.stops == []
    assert result.status is not None
    assert result.status["readyReplicas"] == 1


def test_a_new_generation_surges_first_then_replaces_one_replica_at_a_time() -> None:
    svc, units = serving(service(2))
    svc = replace(svc, generation=2)

    first = plan(svc, units, T0 + timedelta(minutes=1))
    assert first.stops == []  # nobody stops before the extra replica serves
    assert [(u.key, u.generation) for u in first.starts] == [(svc.key(SURGE), 2)]
    svc = after(svc, first)

    units[SURGE] = running(
        svc.key(SURGE), started=T0 + timedelta(minutes=1), port=20009, generation=2
    )
    second = plan(svc, units, T0 + timedelta(minutes=1, seconds=1))
    assert second.stops == [svc.key(0)]
    assert "Rollout" in reasons(second)
    assert second.status is not None
    assert len(second.status["endpoints"]) == 3
    assert second.status["rollout"]["state"] == "Progressing"
    svc = after(svc, second)

    # Replica 0 stopped for the rollout: it starts again at once, with no backoff,
    # and replica 1 waits until it serves.
    units[0] = exited(svc.key(0), 143, reason=UnitReason.STOPPED, started=T0)
    third = plan(svc, units, T0 + timedelta(minutes=1, seconds=2))
    assert [(u.key, u.generation) for u in third.starts] == [(svc.key(0), 2)]
    assert third.stops == []
    assert "BackOff" not in reasons(third)
    svc = after(svc, third)

    units[0] = running(svc.key(0), started=T0 + timedelta(minutes=2), port=20002, generation=2)
    fourth = plan(svc, units, T0 + timedelta(minutes=2, seconds=1))
    assert fourth.stops == [svc.key(1)]
    svc = after(svc, fourth)

    units[1] = running(svc.key(1), started=T0 + timedelta(minutes=3), port=20003, generation=2)
    svc = after(svc, plan(svc, units, T0 + timedelta(minutes=3, seconds=1)))
    done = plan(svc, units, T0 + timedelta(minutes=3, seconds=2))
    assert done.stops == [svc.key(SURGE)]  # every slot serves the new spec: the surge goes
    assert done.status is not None
    assert "rollout" not in done.status


def test_a_rollout_that_never_gets_ready_stalls_while_the_old_version_serves() -> None:
    svc, units = serving(service(2, readiness=READINESS))
    ready = {svc.key(0): Health(ready=True), svc.key(1): Health(ready=True)}
    svc = after(svc, plan(svc, units, T0 + timedelta(seconds=5), ready))
    svc = replace(svc, generation=2)
    svc = after(svc, plan(svc, units, T0 + timedelta(minutes=1), ready))
    units[SURGE] = running(
        svc.key(SURGE), started=T0 + timedelta(minutes=1), port=20009, generation=2
    )
    unready = {**ready, svc.key(SURGE): Health(ready=False, message="HTTP 500")}

    soon = plan(svc, units, T0 + timedelta(minutes=1, seconds=30), unready)
    assert soon.stops == []
    svc = after(svc, soon)
    late = plan(svc, units, T0 + timedelta(minutes=4), unready)
    assert late.stops == []
    assert late.status is not None
    assert late.status["rollout"]["state"] == "Stalled"
    assert "previous version keeps serving" in late.status["rollout"]["message"]
    assert late.status["readyReplicas"] == 2
    assert len(late.status["endpoints"]) == 2
    assert "RolloutStalled" in reasons(late)
    svc = after(svc, late)
    assert "RolloutStalled" not in reasons(plan(svc, units, T0 + timedelta(minutes=5), unready))


def test_a_workspace_restarts_in_place_for_a_new_generation() -> None:
    nb = view("Workspace", "nb", status=dict(ADMITTED), tool="command", command=["sleep", "1"])
    nb = after(nb, plan_workspace(nb, {}, now=T0, context=CONTEXT))
    units = {0: running(nb.key(0), started=T0, port=20000, generation=1)}
    nb = replace(nb, generation=2)
    result = plan_workspace(nb, units, now=T0 + timedelta(minutes=1), context=CONTEXT)
    assert result.stops == [nb.key(0)]
    assert result.starts == []


def test_scaling_down_stops_the_extra_replicas_then_forgets_them() -> None:
    svc, units = serving(service(3))
    svc = replace(svc, obj=service(1).obj, generation=2)
    units = {i: running(svc.key(i), port=20000 + i, generation=2) for i in range(3)}

    down = plan(svc, units, T0 + timedelta(minutes=1))
    assert sorted(down.stops) == [svc.key(1), svc.key(2)]
    assert down.starts == []
    assert down.status is not None
    assert [r["index"] for r in down.status["replicas"]] == [0]
    assert down.status["target"] == {"replicas": 1}

    for i in (1, 2):
        units[i] = exited(svc.key(i), 143, reason=UnitReason.STOPPED, generation=2)
    gone = plan(after(svc, down), units, T0 + timedelta(minutes=1, seconds=1))
    assert sorted(gone.forgets) == [svc.key(1), svc.key(2)]
    assert "BackOff" not in reasons(gone)


def test_scaling_up_starts_only_the_new_replicas() -> None:
    svc, units = serving(service(1))
    svc = replace(svc, obj=service(3).obj)
    result = plan(svc, units, T0 + timedelta(minutes=1))
    assert [u.key.replica for u in result.starts] == [1, 2]


def test_a_model_service_runs_the_model_server() -> None:
    svc = view("Service", "llm", status=dict(ADMITTED), model="bert@prod")
    result = plan(svc, {})
    [unit] = result.starts
    assert unit.command[0] == sys.executable
    assert unit.command[1:] == ("-m", "sapwood.serving", "--model", "bert@prod")
    assert unit.wants_port


def test_a_model_service_is_ready_only_when_its_model_has_loaded() -> None:
    svc = view("Service", "llm", status=dict(ADMITTED), model="bert@prod")
    assert isinstance(svc.obj, Service)
    probe = svc.obj.spec.readiness_probe()
    assert probe is not None
    assert probe.http is not None
    assert probe.http.path == "/v2/health/ready"
    svc = after(svc, plan(svc, {}))
    units = {0: running(svc.key(0), started=T0, port=20000, generation=1)}
    result = plan(svc, units, T0 + timedelta(seconds=1))
    assert result.status is not None
    assert result.status["readyReplicas"] == 0  # not probed yet


def test_canary_replicas_serve_the_canary_model_apart_from_the_main_ones() -> None:
    svc = view(
        "Service",
        "llm",
        status=dict(ADMITTED),
        model="bert@3",
        replicas=2,
        canary={"model": "bert@4", "weight": 10, "replicas": 1},
    )
    result = plan(svc, {})
    by_replica = {u.key.replica: u.command[-1] for u in result.starts}
    assert by_replica == {0: "bert@3", 1: "bert@3", CANARY_FIRST: "bert@4"}
    svc = after(svc, result)
    units = {i: running(svc.key(i), started=T0, port=20000 + i, generation=1) for i in by_replica}
    health = {svc.key(i): Health(ready=True) for i in by_replica}
    status = plan(svc, units, T0 + timedelta(seconds=1), health).status
    assert status is not None
    assert len(status["endpoints"]) == 2
    assert len(status["canaryEndpoints"]) == 1
    assert status["canaryEndpoints"][0] not in status["endpoints"]


def test_a_zero_weight_canary_runs_no_replicas() -> None:
    svc = view(
        "Service",
        "llm",
        status=dict(ADMITTED),
        model="bert@3",
        canary={"model": "bert@4", "weight": 0},
    )
    assert [u.key.replica for u in plan(svc, {}).starts] == [0]


def test_a_service_being_deleted_stops_then_is_removed() -> None:
    svc, units = serving(service(2))
    svc = replace(svc, deletion_timestamp=T0 + timedelta(minutes=1))

    first = plan(svc, units)
    assert sorted(first.stops) == [svc.key(0), svc.key(1)]
    assert not first.remove

    stopped = {i: exited(svc.key(i), 143, reason=UnitReason.STOPPED) for i in units}
    assert plan(svc, stopped).remove


# Workspaces


def workspace_plan(ws: ObjectView, units: dict[int, UnitState], now: datetime = T0) -> Plan:
    return plan_workspace(ws, units, now=now, context=CONTEXT)


def workspace(*, paused: bool = False, status: dict[str, Any] | None = None) -> ObjectView:
    return view(
        "Workspace",
        "nb",
        status=status if status is not None else dict(ADMITTED),
        tool="command",
        command=["sleep", "infinity"],
        paused=paused,
    )


def test_an_admitted_workspace_starts_and_publishes_its_url() -> None:
    ws = workspace()
    first = workspace_plan(ws, {})
    assert [u.key for u in first.starts] == [ws.key(0)]
    assert first.starts[0].wants_port

    units = {0: running(ws.key(0), port=20007)}
    seen = workspace_plan(after(ws, first), units, T0 + timedelta(seconds=1))
    assert seen.status is not None
    assert seen.status["phase"] == "Running"
    assert seen.status["url"] == "http://127.0.0.1:20007/"


def test_pausing_a_workspace_stops_it_and_releases_its_allocation() -> None:
    ws = workspace(paused=True, status={"phase": "Running", "allocated": {"cpu": "500m"}})
    units = {0: running(ws.key(0))}

    paused = workspace_plan(ws, units)

    assert paused.stops == [ws.key(0)]
    assert paused.starts == []
    assert paused.status is not None
    assert paused.status["phase"] == "Paused"
    assert "allocated" not in paused.status
    assert reasons(paused) == ["Paused"]

    units[0] = exited(ws.key(0), 143, reason=UnitReason.STOPPED)
    settled = workspace_plan(after(ws, paused), units, T0 + timedelta(seconds=1))
    assert settled.forgets == [ws.key(0)]
    assert settled.status is None
    assert settled.events == []


def test_resuming_a_workspace_asks_for_admission_again() -> None:
    ws = workspace(paused=False, status={"phase": "Paused", "reason": "Paused"})

    resumed = workspace_plan(ws, {})

    assert resumed.starts == []
    assert resumed.status is not None
    assert resumed.status["phase"] == "Pending"
    assert resumed.status["reason"] == "Resuming"
    assert reasons(resumed) == ["Resuming"]
    assert workspace_plan(after(ws, resumed), {}).empty


def test_a_crashed_workspace_restarts_with_backoff() -> None:
    ws = workspace()
    ws = after(ws, workspace_plan(ws, {}))
    seen = workspace_plan(ws, {0: exited(ws.key(0), 1)}, T0 + timedelta(seconds=30))
    assert reasons(seen) == ["BackOff"]
    assert seen.starts == []


def test_endpoints_name_the_host_a_replica_listens_on() -> None:
    svc = after(service(1), plan(service(1), {}))
    unit = replace(running(svc.key(0), started=T0, port=8080, generation=1), host="10.42.0.7")
    status = plan(svc, {0: unit}, T0 + timedelta(seconds=1)).status
    assert status is not None
    assert status["endpoints"] == ["10.42.0.7:8080"]


def test_a_replica_runs_the_image_its_spec_names() -> None:
    [unit] = plan(service(1, image="ghcr.io/acme/api:2"), {}).starts
    assert unit.image == "ghcr.io/acme/api:2"
