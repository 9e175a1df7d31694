"""What the pages read, through the same services the API routes call (no HTTP to itself)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sapwood.schemas import MetricSeries, Object
from sapwood.schemas.status import HOLDING_PHASES
from sapwood.server.controller.port import ReadPort
from sapwood.server.dashboard.web import Page
from sapwood.server.services import metrics, objects, quotas, teams
from sapwood.server.services.downsample import MIN_POINTS
from sapwood.server.services.overview import (
    Bar,
    Group,
    Holding,
    allocated_of,
    node_groups,
    team_groups,
    total_bars,
    used_of,
)
from sapwood.specs.objects import KINDS

log = logging.getLogger("sapwood.dashboard")
PAGE = 500
MAX_OBJECTS = 2000  # per kind, for the overview and the list; the list says when it stops
CAPACITY_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Overview:
    totals: list[Bar]
    nodes: list[Group]
    teams: list[Group]
    controller: bool  # the runtime is read here (the controller's, or a follower's)
    capacity_known: bool


async def list_all(
    page: Page, kind: str, *, team: str | None = None, selector: str | None = None
) -> tuple[list[Object], bool]:
    """Objects of a kind the caller reads, oldest first; True when MAX_OBJECTS cut it short."""
    items: list[Object] = []
    token: str | None = None
    while True:
        batch = await objects.list_objects(
            page.session,
            page.caller,
            kind,
            team=team,
            selector=selector,
            limit=PAGE,
            continue_=token,
        )
        items.extend(batch.items)
        token = batch.continue_
        if token is None:
            return items, False
        if len(items) >= MAX_OBJECTS:
            return items[:MAX_OBJECTS], True


async def capacity(reads: ReadPort | None) -> dict[str, float] | None:
    """The runtime's allocatable capacity, or None when unknown (no runtime read here, no
    answer)."""
    if reads is None:
        return None
    try:
        cap = await asyncio.wait_for(reads.capacity(), CAPACITY_TIMEOUT_S)
    except Exception:  # the overview shows "unknown" rather than failing
        log.warning("the runtime did not report its capacity", exc_info=True)
        return None
    return {"cpu": cap.cpu_millis, "memory": cap.memory_bytes, "gpu": cap.gpus}


async def workload_series(
    page: Page, obj: Object, *, limit: int, max_points: int
) -> list[MetricSeries]:
    """Every series of the workload (training metrics and utilisation), downsampled."""
    return await metrics.list_series(
        page.session,
        page.caller,
        obj.kind,
        obj.metadata.name,
        team=obj.metadata.team,
        metric=None,
        since=None,
        limit=limit,
        max_points=max_points,
    )


async def latest_utilisation(page: Page, obj: Object) -> dict[str, float]:
    """The newest value of each of the workload's series."""
    series = await workload_series(page, obj, limit=1, max_points=MIN_POINTS)
    return {s.name: s.points[-1].value for s in series if s.points}


async def load_overview(page: Page) -> Overview:
    holdings = []
    for kind in KINDS:
        items, _ = await list_all(page, kind)
        for obj in items:
            if obj.phase not in HOLDING_PHASES:
                continue
            allocated = allocated_of(obj.status)
            latest = await latest_utilisation(page, obj)
            holdings.append(Holding(obj.metadata.team, allocated, used_of(latest, allocated)))
    reads = page.state.reads  # the controller's, or a follower's read-only runtime
    cluster = await capacity(reads)
    guaranteed: dict[str, Mapping[str, float]] = {}
    for quota in await quotas.list_quotas(page.session, page.caller):
        g = quota.guaranteed
        guaranteed[quota.team] = {"cpu": g.cpu, "memory": g.memory, "gpu": g.gpu}
    visible = [t.name for t in await teams.list_teams(page.session, page.caller)]
    node = reads.runtime_name if reads is not None else None
    return Overview(
        totals=total_bars(cluster, holdings),
        nodes=node_groups(node, cluster, holdings),
        teams=team_groups(visible + [h.team for h in holdings], holdings, guaranteed, cluster),
        controller=reads is not None,
        capacity_known=cluster is not None,
    )
