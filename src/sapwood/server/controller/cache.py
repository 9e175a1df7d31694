"""The controller's copy of every object, loaded once and kept current from changes.

Like an informer's store: ``resync`` loads what differs from the database (everything on
the first call; afterwards, from a narrow scan of ids and resourceVersions, only the rows
that moved), ``refresh`` reloads the objects a change notification named, and ``put``
records what the controller itself wrote. A spec is parsed once per generation and labels.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas.status import TERMINAL_PHASES
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.objects import AnyObject, SpecError, parse_object

log = logging.getLogger("sapwood.controller")
Owner = tuple[str, str, str]  # (kind, team, name)
_CHUNK = 500  # uids per IN (...) query


@dataclass(frozen=True)
class Delta:
    """What a load changed in the cache, by uid."""

    changed: frozenset[str] = frozenset()  # new, or with a new resourceVersion
    removed: tuple[ObjectView, ...] = ()  # gone from the store, as last seen

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)


class ObjectCache:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._views: dict[str, ObjectView] = {}
        self._open: set[str] = set()  # not finished (a finished Job waits for nothing)
        self._kinds: dict[str, set[str]] = {}  # uids by kind
        self._owners: dict[Owner, str] = {}
        self._parsed: Parsed = {}
        self.loaded = False

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[ObjectView]:
        return iter(self._views.values())

    def get(self, uid: str) -> ObjectView | None:
        return self._views.get(uid)

    def owner(self, owner: Owner) -> ObjectView | None:
        uid = self._owners.get(owner)
        return None if uid is None else self._views.get(uid)

    def views(self) -> list[ObjectView]:
        """Every object, in creation order (the order the scheduler breaks ties in)."""
        return sorted(self._views.values(), key=lambda v: v.id)

    def unfinished(self, leaving_out: Collection[str] = ()) -> list[ObjectView]:
        """The objects not finished (Succeeded or Failed), but for ``leaving_out``, in
        creation order: what the scheduler weighs, without the finished ones that pile up
        behind a busy queue."""
        views = (self._views[uid] for uid in self._open if uid not in leaving_out)
        return sorted(views, key=lambda v: v.id)

    def of_kind(self, kind: str) -> list[ObjectView]:
        return [self._views[uid] for uid in self._kinds.get(kind, ())]

    async def resync(self) -> Delta:
        """Brings the cache level with the store; returns what differed."""
        async with self._sessions() as session:
            if not self.loaded:
                rows = list(await session.scalars(select(ObjectRow)))
                versions = {row.uid: row.resource_version for row in rows}
            else:
                stamps = await session.execute(select(ObjectRow.uid, ObjectRow.resource_version))
                versions = {uid: version for uid, version in stamps}
                stale = [
                    uid
                    for uid, version in versions.items()
                    if (view := self._views.get(uid)) is None or view.resource_version != version
                ]
                rows = await _rows(session, stale)
        self.loaded = True
        removed = [v for uid, v in self._views.items() if uid not in versions]
        return self._absorb(rows, removed)

    async def refresh(self, uids: Collection[str]) -> Delta:
        """Reloads the objects ``uids`` (a notification said they changed)."""
        if not uids:
            return Delta()
        async with self._sessions() as session:
            rows = await _rows(session, list(uids))
        found = {row.uid for row in rows}
        removed = [
            view for uid in uids if uid not in found and (view := self._views.get(uid)) is not None
        ]
        return self._absorb(rows, removed)

    def put(self, view: ObjectView) -> None:
        """Records an object as the controller just wrote it."""
        self._views[view.uid] = view
        self._owners[(view.kind, view.team, view.name)] = view.uid
        self._kinds.setdefault(view.kind, set()).add(view.uid)
        if view.phase in TERMINAL_PHASES and view.deletion_timestamp is None:
            self._open.discard(view.uid)
        else:
            self._open.add(view.uid)

    def drop(self, view: ObjectView) -> None:
        self._forget(view.uid)

    def _absorb(self, rows: Iterable[ObjectRow], removed: list[ObjectView]) -> Delta:
        changed: set[str] = set()
        for row in rows:
            current = self._views.get(row.uid)
            if current is not None and current.resource_version == row.resource_version:
                continue
            view = self._view(row)
            if view is None:  # no longer parses: treated as gone, with an error logged
                if current is not None:
                    removed.append(current)
                    self._forget(row.uid)
                continue
            self.put(view)
            changed.add(row.uid)
        for view in removed:
            self._forget(view.uid)
        return Delta(frozenset(changed), tuple(removed))

    def _forget(self, uid: str) -> None:
        view = self._views.pop(uid, None)
        self._parsed.pop(uid, None)
        self._open.discard(uid)
        if view is not None:
            self._owners.pop((view.kind, view.team, view.name), None)
            self._kinds.get(view.kind, set()).discard(uid)

    def _view(self, row: ObjectRow) -> ObjectView | None:
        return view_of(row, self._parsed)


async def _rows(session: AsyncSession, uids: list[str]) -> list[ObjectRow]:
    rows: list[ObjectRow] = []
    for start in range(0, len(uids), _CHUNK):
        chunk = uids[start : start + _CHUNK]
        rows += list(await session.scalars(select(ObjectRow).where(ObjectRow.uid.in_(chunk))))
    return rows


Parsed = dict[str, tuple[int, dict[str, str], AnyObject]]
"""Parsed specs by uid, kept by the caller between reads: (generation, labels, object)."""


def view_of(row: ObjectRow, parsed: Parsed, *, quiet: bool = False) -> ObjectView | None:
    """The row as a view, its spec parsed once per generation and labels (kept in
    ``parsed``); None for a stored spec that no longer parses, which is logged as an error
    unless ``quiet`` (a reader that is not the controller leaves the saying to it)."""
    known = parsed.get(row.uid)
    if known is not None and known[0] == row.generation and known[1] == row.labels:
        obj = known[2]
    else:
        document = {
            "apiVersion": "sapwood/v1",
            "kind": row.kind,
            "metadata": {"name": row.name, "team": row.team, "labels": row.labels},
            "spec": row.spec,
        }
        try:
            obj = parse_object(document)
        except SpecError as exc:
            level = logging.DEBUG if quiet else logging.ERROR
            log.log(
                level,
                "skipping %s/%s/%s: stored spec is invalid: %s",
                row.kind,
                row.team,
                row.name,
                exc,
            )
            return None
        parsed[row.uid] = (row.generation, dict(row.labels), obj)
    return ObjectView(
        id=row.id,
        uid=row.uid,
        obj=obj,
        team=row.team,
        generation=row.generation,
        resource_version=row.resource_version,
        created_at=row.created_at,
        deletion_timestamp=row.deletion_timestamp,
        status=dict(row.status),
    )
