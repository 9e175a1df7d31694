"""Plain-data builders for the scheduler tests: nodes, workloads, placements, one cycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

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

GI = 1024**3
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)


def res(cpu: float = 0, memory: int = 0, gpus: int = 0) -> Resources:
    """Cores, GiB and GPUs."""
    return Resources(round(cpu * 1000), memory * GI, gpus)


def node(
    name: str,
    *,
    gpus: int = 8,
    cpu: int = 64,
    memory: int = 256,
    model: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Node:
    return Node(name, res(cpu, memory, gpus), dict(labels or {}), model)


def job(
    uid: str,
    *,
    team: str = "research",
    priority: int = 0,
    cpu: float = 1,
    memory: int = 4,
    gpus: int = 0,
    count: int = 1,
    queued: int = 0,
    role: Role = Role.REGULAR,
    selector: Mapping[str, str] | None = None,
    model: str | None = None,
    kind: str = "job",
) -> Workload:
    """A workload queued ``queued`` minutes after T0; its ref is ``kind/team/uid``."""
    return Workload(
        uid=uid,
        ref=f"{kind}/{team}/{uid}",
        team=team,
        priority=priority,
        replica=res(cpu, memory, gpus),
        count=count,
        queued_at=T0 + timedelta(minutes=queued),
        role=role,
        node_selector=dict(selector or {}),
        gpu_model=model,
    )


def on(workload: Workload, *nodes: str, started: int = 0) -> Placed:
    """``workload`` running with one replica per named node, started minutes after T0."""
    assert len(nodes) == workload.count
    return Placed(workload, tuple(nodes), T0 + timedelta(minutes=started))


def cycle(
    pending: Sequence[Workload],
    running: Sequence[Placed] = (),
    nodes: Sequence[Node] = (),
    quotas: Mapping[str, Quota] | None = None,
    **policy: bool,
) -> Decisions:
    return schedule(pending, running, nodes, quotas or {}, now=NOW, policy=Policy(**policy))
