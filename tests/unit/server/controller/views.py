"""Plain-data builders for the reconciler tests: objects as a pass loads them, and units."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sapwood.server.controller.plan.units import UnitContext
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.runtimes.base import UnitKey, UnitPhase, UnitReason, UnitState
from sapwood.specs.objects import parse_object

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TEAM = "research"
GANG_PORT = 41000
CONTEXT = UnitContext(
    api_url="http://127.0.0.1:8400",
    token="sw_wtest_secret",
    pick_ports=lambda count: GANG_PORT,  # no probing of real ports in unit tests
)


def document(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "sapwood/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def view(
    kind: str,
    name: str = "train",
    *,
    status: dict[str, Any] | None = None,
    generation: int = 1,
    deleted_at: datetime | None = None,
    **spec: Any,
) -> ObjectView:
    return ObjectView(
        id=1,
        uid=f"uid-{name}",
        obj=parse_object(document(kind, name, **spec)),
        team=TEAM,
        generation=generation,
        resource_version=1,
        created_at=T0,
        deletion_timestamp=deleted_at,
        status=status if status is not None else {"phase": "Pending"},
    )


def after(current: ObjectView, plan: Plan) -> ObjectView:
    """The object as the next pass loads it, once the plan's status is written."""
    if plan.status is None:
        return current
    return replace(current, status=plan.status, resource_version=current.resource_version + 1)


def running(
    key: UnitKey, *, started: datetime = T0, generation: int = 1, port: int | None = None
) -> UnitState:
    return UnitState(key, UnitPhase.RUNNING, 4242, started, generation, port)


def exited(
    key: UnitKey,
    code: int,
    *,
    reason: str | None = None,
    started: datetime = T0,
    generation: int = 1,
    ran: timedelta = timedelta(seconds=5),
) -> UnitState:
    default = UnitReason.COMPLETED if code == 0 else UnitReason.ERROR
    return UnitState(
        key,
        UnitPhase.EXITED,
        None,
        started,
        generation,
        None,
        exit_code=code,
        reason=str(reason or default),
        finished_at=started + ran,
    )


def reasons(plan: Plan) -> list[str]:
    return [e.reason for e in plan.events]


def replica(status: dict[str, Any] | None, index: int) -> dict[str, Any]:
    assert status is not None
    found = [r for r in status["replicas"] if r["index"] == index]
    assert len(found) == 1, status["replicas"]
    return found[0]
