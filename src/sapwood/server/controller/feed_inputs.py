"""The one trip to the store a pass makes for feeds: each feed's backlog, and what its
model reference names now (the pure decisions over them are in ``plan.feed``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.controller.plan.feed import ModelIndex, model_problem
from sapwood.server.controller.plan.policy import FeedInputs
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.registry.resolve import resolve
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import FeedBatchRow, ModelAliasRow, ModelVersionRow
from sapwood.specs.objects import Feed


async def load_feed_inputs(
    sessions: async_sessionmaker[AsyncSession], feeds: Sequence[ObjectView]
) -> dict[str, FeedInputs]:
    """Per feed uid: records not yet scored, and what its model reference names now."""
    if not feeds:
        return {}
    wanted = {(v.team, _model_name(v)) for v in feeds}
    async with sessions() as session:
        rows = await session.execute(
            select(FeedBatchRow.feed_uid, func.sum(FeedBatchRow.count))
            .where(
                FeedBatchRow.feed_uid.in_([v.uid for v in feeds]),
                FeedBatchRow.acked.is_(False),
            )
            .group_by(FeedBatchRow.feed_uid)
        )
        backlogs = {str(uid): int(total or 0) for uid, total in rows}
        models = await _model_indexes(session, wanted)
    out = {}
    for view in feeds:
        assert isinstance(view.obj, Feed)
        ref = view.obj.spec.model
        model = models.get((view.team, _model_name(view)))
        at = ref.partition("@")[2]
        version = resolve(at, model.versions, model.aliases) if model is not None else None
        out[view.uid] = FeedInputs(
            backlog=backlogs.get(view.uid, 0),
            model_version=version,
            model_problem=model_problem(ref, view.team, model, version=version),
        )
    return out


def _model_name(view: ObjectView) -> str:
    return view.obj.spec.model.partition("@")[0] if isinstance(view.obj, Feed) else ""


async def _model_indexes(
    session: AsyncSession, wanted: Collection[tuple[str, str]]
) -> dict[tuple[str, str], ModelIndex]:
    """The versions and aliases of the (team, model) pairs asked for; absent: no versions."""
    teams = sorted({team for team, _ in wanted})
    names = sorted({name for _, name in wanted})
    versions: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    aliases: defaultdict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    query = select(ModelVersionRow.team, ModelVersionRow.name, ModelVersionRow.version).where(
        ModelVersionRow.team.in_(teams), ModelVersionRow.name.in_(names)
    )
    for team, name, version in await session.execute(query):
        versions[(team, name)].add(int(version))
    alias_query = select(
        ModelAliasRow.team, ModelAliasRow.name, ModelAliasRow.alias, ModelAliasRow.version
    ).where(ModelAliasRow.team.in_(teams), ModelAliasRow.name.in_(names))
    for team, name, alias, version in await session.execute(alias_query):
        aliases[(team, name)][str(alias)] = int(version)
    return {
        key: ModelIndex(frozenset(versions[key]), dict(aliases[key]))
        for key in wanted
        if key in versions
    }
