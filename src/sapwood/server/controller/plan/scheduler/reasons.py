"""Why something waits, in words a researcher understands."""

from __future__ import annotations

from sapwood.server.controller.plan.scheduler.model import Resources, Workload
from sapwood.specs.quantity import format_cpu, format_memory

_NAMES = ("cpu", "memory", "gpu")


def amount(dimension: str, value: int) -> str:
    if dimension == "cpu":
        return format_cpu(max(value, 0))
    if dimension == "memory":
        return format_memory(max(value, 0))
    return str(max(value, 0))


def over_quota(team: str, used: Resources, request: Resources, limit: Resources) -> str:
    for name, u, r, m in zip(_NAMES, used.values(), request.values(), limit.values(), strict=True):
        if u + r > m:
            return (
                f"team {team} is at its {name} quota ({amount(name, u)} of {amount(name, m)} "
                f"in use; this needs {amount(name, r)} more)"
            )
    return f"team {team} is at its quota"


def never_fits(workload: Workload, largest: Resources | None) -> str | None:
    """A reason when no eligible node could ever hold one replica; None when one could."""
    if largest is None:
        wanted = dict(workload.node_selector)
        if workload.gpu_model:
            wanted["gpu model"] = workload.gpu_model
        terms = ", ".join(f"{k}={v}" for k, v in wanted.items())
        return f"no node matches {terms}"
    for name, need, have in zip(_NAMES, workload.replica.values(), largest.values(), strict=True):
        if need > have:
            return (
                f"needs {amount(name, need)} {name} per replica; "
                f"the largest node has {amount(name, have)}"
            )
    return None


def beyond_cluster(workload: Workload, total: Resources) -> str:
    return (
        f"needs {describe(workload.request)} for all {workload.count} replicas at once, "
        f"more than the whole cluster has ({describe(total)})"
    )


def no_room(workload: Workload, largest_free: Resources, free_total: Resources) -> str:
    for name, need, have in zip(
        _NAMES, workload.replica.values(), largest_free.values(), strict=True
    ):
        if need > have:
            return (
                f"needs {amount(name, need)} {name}; "
                f"the largest free on any node is {amount(name, have)}"
            )
    if workload.count > 1:
        return (
            f"needs room for all {workload.count} replicas at once "
            f"({describe(workload.request)}); free in total: {describe(free_total)}"
        )
    return f"needs {describe(workload.request)}; free in total: {describe(free_total)}"


def describe(resources: Resources) -> str:
    parts = [f"{amount('cpu', resources.cpu_millis)} cpu"]
    parts.append(f"{amount('memory', resources.memory_bytes)} memory")
    if resources.gpus:
        parts.append(f"{max(resources.gpus, 0)} gpu")
    return ", ".join(parts)
