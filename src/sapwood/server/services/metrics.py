"""Training metrics: a workload writes points of its own object; readers get series back.

Who may write: the object's own workload token, or a member or admin of its team. A
workload token writes its own object's metrics and nothing else's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby

from pydantic import ValidationError
from sqlalchemy import func, select

from sapwood.schemas import MetricPoint, MetricSeries, MetricsWritten, SeriesPoint
from sapwood.schemas.metrics import MAX_POINTS_PER_REQUEST
from sapwood.server.services.access import Caller, require_write
from sapwood.server.services.downsample import Bucket, Point, downsample
from sapwood.server.services.errors import Detail, ForbiddenError, InvalidError
from sapwood.server.services.objects import find_object
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MetricRow, ObjectRow


def validate_points(items: Sequence[object]) -> list[MetricPoint]:
    """Every point checked; the first invalid one is named by index and field."""
    if len(items) > MAX_POINTS_PER_REQUEST:
        raise InvalidError(
            f"{len(items)} points in one request: at most {MAX_POINTS_PER_REQUEST} are accepted",
            details=[Detail("points", f"at most {MAX_POINTS_PER_REQUEST} points per request")],
            hint=f"send them in batches of {MAX_POINTS_PER_REQUEST} (sapwood.run does)",
        )
    points = []
    for index, item in enumerate(items):
        try:
            points.append(MetricPoint.model_validate(item))
        except ValidationError as exc:
            details = [
                Detail(
                    ".".join([f"points[{index}]", *(str(p) for p in error["loc"])]),
                    error["msg"].removeprefix("Value error, "),
                )
                for error in exc.errors()
            ]
            raise InvalidError(
                f"point {index + 1} of {len(items)} is invalid", details=details
            ) from None
    return points


def require_metrics_write(caller: Caller, obj: ObjectRow) -> None:
    """A workload's token writes its own object only; anyone else needs write access."""
    ref = f"{obj.kind.lower()}/{obj.name}"
    if caller.scope is not None:
        if not caller.scope.owns(obj.kind, obj.team, obj.name):
            raise ForbiddenError(
                f"this token belongs to the workload {caller.scope} and writes its metrics "
                f"only, not those of {ref} in team {obj.team}"
            )
        return
    require_write(caller, obj.team, f"the metrics of {ref}")


async def write_metrics(
    session: AsyncSession,
    caller: Caller,
    kind: str,
    name: str,
    items: Sequence[object],
    *,
    team: str | None,
    now: datetime,
) -> MetricsWritten:
    """Stores every point or none; points without a time get ``now``."""
    obj = await find_object(session, caller, kind, name, team=team)
    require_metrics_write(caller, obj)
    points = validate_points(items)
    session.add_all(
        MetricRow(
            uid=obj.uid,
            kind=obj.kind,
            team=obj.team,
            name=obj.name,
            metric=p.name,
            step=p.step,
            value=p.value,
            time=_utc(p.time) if p.time is not None else now,
        )
        for p in points
    )
    await session.commit()
    return MetricsWritten(written=len(points))


async def list_series(
    session: AsyncSession,
    caller: Caller,
    kind: str,
    name: str,
    *,
    team: str | None,
    metric: str | None,
    since: datetime | None,
    limit: int,
    max_points: int,
) -> list[MetricSeries]:
    """The object's series by name; each from its newest ``limit`` points, downsampled."""
    obj = await find_object(session, caller, kind, name, team=team)
    rank = func.row_number().over(partition_by=MetricRow.metric, order_by=MetricRow.id.desc())
    ranked = select(
        MetricRow.id,
        MetricRow.metric,
        MetricRow.step,
        MetricRow.value,
        MetricRow.time,
        rank.label("rank"),
    ).where(MetricRow.uid == obj.uid)
    if metric is not None:
        ranked = ranked.where(MetricRow.metric == metric)
    if since is not None:
        ranked = ranked.where(MetricRow.time >= _utc(since))
    newest = ranked.subquery()
    query = (
        select(newest.c.metric, newest.c.step, newest.c.value, newest.c.time)
        .where(newest.c.rank <= limit)
        .order_by(newest.c.metric, newest.c.id)
    )
    rows = (await session.execute(query)).all()
    series = []
    for metric_name, group in groupby(rows, key=lambda r: str(r.metric)):
        points = [Point(r.step, _utc(r.time), r.value) for r in group]
        buckets = downsample(points, max_points)
        series.append(
            MetricSeries(name=metric_name, count=len(points), points=[_wire(b) for b in buckets])
        )
    return series


def _wire(bucket: Bucket) -> SeriesPoint:
    return SeriesPoint(
        step=bucket.step,
        time=bucket.time,
        value=bucket.value,
        min=bucket.min,
        max=bucket.max,
        count=bucket.count,
    )


def _utc(moment: datetime) -> datetime:
    """A naive time from a client means UTC; the store takes aware ones only."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
