"""Feeds: keep as many feed workers up as the backlog asks for, within workers.min..max.

``next_workers`` is the pure decision (tested by a decision table); ``plan_feed`` turns it
into replicas like a Service's; ``load_backlogs`` is the one query a pass makes for feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.controller.admission import PREEMPTED, elastic_admitted
from sapwood.server.controller.lifecycle import plan_deletion, plan_settled
from sapwood.server.controller.model import ObjectView, Plan
from sapwood.server.controller.services import _keep_replicas
from sapwood.server.controller.units import UnitContext
from sapwood.server.runtimes.base import UnitState
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import FeedBatchRow
from sapwood.specs.objects import Feed
from sapwood.specs.probes import Backoff


def desired_workers(backlog: int, *, minimum: int, maximum: int, target_per_worker: int) -> int:
    """ceil(backlog / target_per_worker), held within minimum..maximum (as KEDA does)."""
    wanted = -(-max(0, backlog) // max(1, target_per_worker))
    return max(minimum, min(maximum, wanted))


def next_workers(
    current: int, backlog: int, *, minimum: int, maximum: int, target_per_worker: int
) -> int:
    """Scale up at once; scale down only once the backlog is drained, so workers are not
    stopped mid-flight while records still wait."""
    wanted = desired_workers(
        backlog, minimum=minimum, maximum=maximum, target_per_worker=target_per_worker
    )
    if wanted >= current or backlog == 0:
        return wanted
    return max(minimum, min(maximum, current))


def plan_feed(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    backlog: int,
) -> Plan:
    assert isinstance(view.obj, Feed)
    if view.deletion_timestamp is not None:
        return plan_deletion(view, units)
    if view.phase == "Failed" or view.status.get("reason") == PREEMPTED:
        return plan_settled(view, units)
    if view.phase == "Pending":
        return Plan()
    workers = view.obj.spec.workers
    current = int(view.status.get("desiredWorkers", workers.min))
    wanted = next_workers(
        current,
        backlog,
        minimum=workers.min,
        maximum=workers.max,
        target_per_worker=workers.target_backlog_per_worker,
    )
    admitted = workers.min + elastic_admitted(view)
    count = min(wanted, admitted)
    plan = _keep_replicas(
        view,
        units,
        desired=list(range(count)),
        backoff=Backoff(),
        now=now,
        context=context,
        health={},
        readiness_probed=False,
    )
    if plan.status is not None:
        plan.status["backlog"] = backlog
        plan.status["desiredWorkers"] = wanted
        if wanted > admitted:
            plan.status["message"] = (
                f"{plan.status.get('message', '')}; {wanted} wanted, {admitted} admitted"
            ).lstrip("; ")
    return plan


async def load_backlogs(
    sessions: async_sessionmaker[AsyncSession], uids: Sequence[str]
) -> dict[str, int]:
    """Records not yet scored, per feed uid (absent: none)."""
    if not uids:
        return {}
    async with sessions() as session:
        rows = await session.execute(
            select(FeedBatchRow.feed_uid, func.sum(FeedBatchRow.count))
            .where(FeedBatchRow.feed_uid.in_(list(uids)), FeedBatchRow.acked.is_(False))
            .group_by(FeedBatchRow.feed_uid)
        )
        return {str(uid): int(total or 0) for uid, total in rows}
