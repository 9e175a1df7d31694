"""What one utilisation sample holds: each object's usage summed over its replicas, and the
series values stored for it (see docs/utilisation.md). Pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.units import UnitKey, UnitUsage
from sapwood.specs.objects import Service, Workspace
from sapwood.specs.workloads import IdleThreshold

Owner = tuple[str, str, str]  # (kind, team, name)

METRICS = (
    "sapwood.cpu_percent",
    "sapwood.memory_bytes",
    "sapwood.gpu_percent",
    "sapwood.gpu_memory_bytes",
    "sapwood.cpu_requested_percent",
    "sapwood.memory_requested_bytes",
    "sapwood.gpu_requested_percent",
)
DEFAULT_IDLE_THRESHOLD = IdleThreshold()


@dataclass(frozen=True)
class Totals:
    """One object's usage summed over its running replicas."""

    replicas: int
    cpu_percent: float
    memory_bytes: int
    gpu_percent: float | None
    gpu_memory_bytes: int | None


def sum_usage(usage: Mapping[UnitKey, UnitUsage]) -> dict[Owner, Totals]:
    """Per object: CPU and memory add up; GPU figures add up where known (None if none is)."""
    groups: dict[Owner, list[UnitUsage]] = defaultdict(list)
    for key, used in usage.items():
        groups[(key.kind, key.team, key.name)].append(used)
    out = {}
    for owner, items in groups.items():
        gpu = [u.gpu_percent for u in items if u.gpu_percent is not None]
        gpu_memory = [u.gpu_memory_bytes for u in items if u.gpu_memory_bytes is not None]
        out[owner] = Totals(
            replicas=len(items),
            cpu_percent=round(sum(u.cpu_percent for u in items), 2),
            memory_bytes=sum(u.memory_bytes for u in items),
            gpu_percent=round(sum(gpu), 2) if gpu else None,
            gpu_memory_bytes=sum(gpu_memory) if gpu_memory else None,
        )
    return out


def metric_values(view: ObjectView, totals: Totals) -> dict[str, float]:
    """The series values of one sample: used, and requested by the replicas running."""
    resources = view.obj.spec.resources
    values: dict[str, float] = {
        "sapwood.cpu_percent": totals.cpu_percent,
        "sapwood.memory_bytes": float(totals.memory_bytes),
        "sapwood.cpu_requested_percent": resources.cpu / 10 * totals.replicas,
        "sapwood.memory_requested_bytes": float(resources.memory * totals.replicas),
    }
    if totals.gpu_percent is not None:
        values["sapwood.gpu_percent"] = totals.gpu_percent
    if totals.gpu_memory_bytes is not None:
        values["sapwood.gpu_memory_bytes"] = float(totals.gpu_memory_bytes)
    if resources.gpu:
        values["sapwood.gpu_requested_percent"] = 100.0 * resources.gpu * totals.replicas
    return values


def idle_threshold_of(view: ObjectView) -> IdleThreshold:
    """The object's ``spec.idleThreshold``; the default for kinds that never idle."""
    if isinstance(view.obj, Workspace | Service):
        return view.obj.spec.idle_threshold
    return DEFAULT_IDLE_THRESHOLD
