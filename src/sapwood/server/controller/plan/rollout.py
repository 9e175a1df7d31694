"""Rolling updates: a new spec replaces replicas without taking any serving one away.

A Service starts one extra replica (the surge) of the new generation first; only once it
is ready does an old replica stop, and the next one stops only when every slot serves
again. A surge that never becomes ready stalls the rollout: the old replicas keep serving
and the status says why. A Workspace (one replica with a volume) restarts in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sapwood.server.controller.plan.replicas import (
    ReplicaRecord,
    describe_exit,
    load_records,
    running,
)
from sapwood.server.controller.plan.units import is_canary
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitState

SURGE = 5000
"""The surge replica's index: above any main replica (max 1024), below the canaries."""
STALL_AFTER = timedelta(minutes=2)
"""A surge not ready for this long (or restarting twice) stalls the rollout."""


def outdated(view: ObjectView, units: Mapping[int, UnitState], indices: list[int]) -> list[int]:
    """Running replicas started for an older spec, main replicas first."""
    old = [
        i
        for i in indices
        if i != SURGE and running(units.get(i)) and units[i].generation != view.generation
    ]
    return sorted(old, key=lambda i: (is_canary(i), i))


def wants_surge(view: ObjectView, units: Mapping[int, UnitState], main: list[int]) -> bool:
    """While main replicas are outdated, and until every slot serves the new spec again."""
    if not main:
        return False
    if outdated(view, units, main):
        return True
    if not running(units.get(SURGE)):
        return False
    records = load_records(view.status, main)
    return not all(
        records[i].ready and running(units.get(i)) and units[i].generation == view.generation
        for i in main
    )


def plan_rollout(
    view: ObjectView,
    records: dict[int, ReplicaRecord],
    units: Mapping[int, UnitState],
    plan: Plan,
    *,
    now: datetime,
) -> dict[str, Any] | None:
    """Stops the next outdated replica when it is safe; returns ``status.rollout``."""
    old = outdated(view, units, list(records))
    if SURGE not in records:
        if old and not plan.stops and all(r.ready for i, r in records.items() if i != old[0]):
            plan.stops.append(units[old[0]].key)
            plan.event("Rollout", f"replica {old[0]} restarts for generation {view.generation}")
        return None
    surge = records[SURGE]
    main = [i for i in records if i != SURGE and not is_canary(i)]
    if old and not plan.stops and surge.ready:
        serving = sum(1 for i, r in records.items() if r.ready and i != old[0] and not is_canary(i))
        if is_canary(old[0]) or serving >= len(main):
            plan.stops.append(units[old[0]].key)
            plan.event(
                "Rollout",
                f"replica {old[0]} replaced for generation {view.generation} "
                f"({len(old) - 1} more to go)",
            )
    why = _stalled(surge, units.get(SURGE), now)
    previous = view.status.get("rollout")
    was_stalled = isinstance(previous, dict) and previous.get("state") == "Stalled"
    if why is not None:
        message = (
            f"generation {view.generation} is not ready: {why}; the previous version keeps serving"
        )
        if not was_stalled:
            plan.event("RolloutStalled", message, warning=True)
        return {"generation": view.generation, "state": "Stalled", "message": message}
    left = len([i for i in old if not is_canary(i)])
    return {
        "generation": view.generation,
        "state": "Progressing",
        "message": f"{len(main) - left}/{len(main)} replicas on generation {view.generation}",
    }


def _stalled(surge: ReplicaRecord, unit: UnitState | None, now: datetime) -> str | None:
    if surge.restarts >= 2 and surge.last_exit is not None:
        return f"the new replica {describe_exit(surge.last_exit)} {surge.restarts} times"
    if running(unit) and unit is not None and not surge.ready:
        waited = now - unit.started_at
        if waited >= STALL_AFTER:
            return f"the new replica has not passed readiness in {int(waited.total_seconds())}s"
    return None
