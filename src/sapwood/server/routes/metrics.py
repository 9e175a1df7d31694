"""/api/v1/{workspaces|jobs|services}/{name}/metrics: training metrics in, series out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from sapwood.schemas import MetricSeries, MetricsWritten
from sapwood.server.routes.deps import CtxDep, kind_of_plural
from sapwood.server.routes.objects import KindPath, TeamQuery
from sapwood.server.routes.params import NamePath
from sapwood.server.services import metrics
from sapwood.server.services.downsample import MIN_POINTS

router = APIRouter(prefix="/api/v1", tags=["metrics"])
DEFAULT_POINTS = 500
MAX_POINTS = 10_000
DEFAULT_READ = 100_000
MAX_READ = 1_000_000


@router.post("/{plural:plural}/{name}/metrics")
async def write_metrics(
    plural: KindPath,
    name: NamePath,
    ctx: CtxDep,
    points: Annotated[
        list[dict[str, Any]],
        Body(description="up to 1000 points: {name, value, step?, time?}"),
    ],
    team: TeamQuery = None,
) -> MetricsWritten:
    """Stores points of the object's metrics: all of them, or none when one is invalid."""
    return await metrics.write_metrics(
        ctx.session,
        ctx.caller,
        kind_of_plural(plural),
        name,
        points,
        team=team,
        now=ctx.state.clock.now(),
    )


@router.get("/{plural:plural}/{name}/metrics")
async def list_metrics(
    plural: KindPath,
    name: NamePath,
    ctx: CtxDep,
    team: TeamQuery = None,
    metric: Annotated[str | None, Query(alias="name", description="only this metric")] = None,
    since: Annotated[datetime | None, Query(description="only points from this time")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_READ, description="read the newest this many points per metric")
    ] = DEFAULT_READ,
    points: Annotated[
        int, Query(ge=MIN_POINTS, le=MAX_POINTS, description="at most this many per metric")
    ] = DEFAULT_POINTS,
) -> list[MetricSeries]:
    """The object's metrics by name, each downsampled to at most ``points`` points."""
    return await metrics.list_series(
        ctx.session,
        ctx.caller,
        kind_of_plural(plural),
        name,
        team=team,
        metric=metric,
        since=since,
        limit=limit,
        max_points=points,
    )
