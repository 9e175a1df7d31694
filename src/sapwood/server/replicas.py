"""Which server replicas are alive, and where their gateways answer: a heartbeat table.

Each replica that advertises an address (Kubernetes: its pod IP) keeps a row in
`server_replicas` with its gateway's URL and a `beat` it bumps every `HEARTBEAT_S`
(`ReplicaHeartbeat`, a loop on the injected clock), and deletes it when it stops. The
leader reads the rows each round (`ReplicaDirectory`) to ask every other live replica's
gateway for its load (observe/gateway_load.py).

As with leader election (server/leader.py), no replica compares another's wall clock with
its own: a reader judges a row's age on its own monotonic clock, from when it last saw the
row's beat change. A row unchanged for `STALE_AFTER_S` is left out; one unchanged for
`PRUNE_AFTER_S` is deleted (guarded by the beat read, so a replica that beat meanwhile
keeps its row, and one whose row went comes back at its next beat).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.loop import Loop
from sapwood.server.store.tables import ServerReplicaRow

log = logging.getLogger("sapwood.server.replicas")

HEARTBEAT_S = 5.0
STALE_AFTER_S = 3 * HEARTBEAT_S  # three missed beats: left out of the leader's rounds
PRUNE_AFTER_S = 600.0  # ten minutes without a beat: the row is deleted

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class ReplicaView:
    id: str
    gateway_url: str
    beat: int


@dataclass(frozen=True)
class Sighting:
    """A row's beat as a reader last saw it change, and when, on the reader's own
    monotonic clock."""

    beat: int
    seen_at: float


def sighted(
    rows: Iterable[ReplicaView], last: Mapping[str, Sighting], *, now: float
) -> dict[str, Sighting]:
    """The sightings after reading `rows` at monotonic `now`: kept while a row's beat is
    the same, new from `now` when it changed or the row is new; gone rows are forgotten."""
    out: dict[str, Sighting] = {}
    for row in rows:
        seen = last.get(row.id)
        out[row.id] = (
            seen if seen is not None and seen.beat == row.beat else Sighting(row.beat, now)
        )
    return out


def live_peer_urls(
    rows: Iterable[ReplicaView],
    sightings: Mapping[str, Sighting],
    *,
    own_id: str,
    own_url: str | None,
    now: float,
    stale_after_s: float = STALE_AFTER_S,
) -> list[str]:
    """The gateway URLs of the other replicas whose beat changed within `stale_after_s`,
    each once (a restarted container keeps its pod's address), sorted; never this
    replica's own."""
    urls: set[str] = set()
    for row in rows:
        seen = sightings.get(row.id)
        if row.id == own_id or row.gateway_url == own_url or seen is None:
            continue
        if now - seen.seen_at < stale_after_s:
            urls.add(row.gateway_url)
    return sorted(urls)


def to_prune(
    rows: Iterable[ReplicaView],
    sightings: Mapping[str, Sighting],
    *,
    now: float,
    prune_after_s: float = PRUNE_AFTER_S,
) -> list[ReplicaView]:
    """The rows whose beat has not changed for `prune_after_s`."""
    return [
        row
        for row in rows
        if (seen := sightings.get(row.id)) is not None and now - seen.seen_at >= prune_after_s
    ]


async def list_replicas(sessions: Sessions) -> list[ReplicaView]:
    async with sessions() as session:
        rows = await session.scalars(select(ServerReplicaRow))
        return [ReplicaView(r.id, r.gateway_url, r.beat) for r in rows]


async def beat(sessions: Sessions, replica_id: str, gateway_url: str, *, now: datetime) -> None:
    """Bumps this replica's row, or creates it (first beat, or after it was pruned)."""
    async with sessions() as session:
        result = await session.execute(
            update(ServerReplicaRow)
            .where(ServerReplicaRow.id == replica_id)
            .values(beat=ServerReplicaRow.beat + 1, gateway_url=gateway_url, seen_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        if getattr(result, "rowcount", 0) == 1:
            return
        session.add(ServerReplicaRow(id=replica_id, gateway_url=gateway_url, beat=1, seen_at=now))
        try:
            await session.commit()
        except IntegrityError:  # written meanwhile: that counts as this beat
            await session.rollback()


async def delete_replica(sessions: Sessions, replica_id: str, *, beat: int | None = None) -> None:
    """Deletes a replica's row; with `beat`, only if the row still has that beat."""
    query = delete(ServerReplicaRow).where(ServerReplicaRow.id == replica_id)
    if beat is not None:
        query = query.where(ServerReplicaRow.beat == beat)
    async with sessions() as session:
        await session.execute(query.execution_options(synchronize_session=False))
        await session.commit()


class ReplicaHeartbeat(Loop):
    """Keeps this replica's row beating every `interval_s`; deletes it on stop."""

    name = "replica-heartbeat"

    def __init__(
        self,
        sessions: Sessions,
        clock: Clock,
        *,
        replica_id: str,
        gateway_url: str,
        interval_s: float = HEARTBEAT_S,
    ) -> None:
        super().__init__(clock=clock, interval_s=interval_s)
        self.replica_id = replica_id
        self.gateway_url = gateway_url
        self._sessions = sessions

    async def tick(self) -> float | None:
        try:
            await beat(self._sessions, self.replica_id, self.gateway_url, now=self.clock.now())
        except SQLAlchemyError as error:  # the next beat tries again
            log.warning("replica %s: could not record its heartbeat: %s", self.replica_id, error)
        return None

    async def start(self) -> None:
        """Beats once before returning, so the leader can see this replica at once."""
        await self.tick()
        await super().start()

    async def on_stop(self) -> None:
        try:
            await delete_replica(self._sessions, self.replica_id)
        except SQLAlchemyError:
            log.warning("replica %s: could not remove its row", self.replica_id, exc_info=True)


class ReplicaDirectory:
    """The leader's view of the other live replicas' gateways. Rows change only when a
    replica beats, so the table is read at most once per `refresh_s` (the controller asks
    every round); raises the database's error when it cannot be read."""

    def __init__(
        self,
        sessions: Sessions,
        clock: Clock,
        *,
        own_id: str,
        own_url: str | None,
        stale_after_s: float = STALE_AFTER_S,
        prune_after_s: float = PRUNE_AFTER_S,
        refresh_s: float = HEARTBEAT_S,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._own_id = own_id
        self._own_url = own_url
        self._stale_after_s = stale_after_s
        self._prune_after_s = prune_after_s
        self._refresh_s = refresh_s
        self._sightings: dict[str, Sighting] = {}
        self._known: tuple[float, list[str]] | None = None  # (read at, live peer URLs)

    async def __call__(self) -> list[str]:
        now = self._clock.monotonic()
        if self._known is not None and now - self._known[0] < self._refresh_s:
            return self._known[1]
        urls = await self._read(now)
        self._known = (now, urls)
        return urls

    async def _read(self, now: float) -> list[str]:
        rows = await list_replicas(self._sessions)
        self._sightings = sighted(rows, self._sightings, now=now)
        for row in to_prune(rows, self._sightings, now=now, prune_after_s=self._prune_after_s):
            log.info("replica %s (%s) stopped beating; its row is removed", row.id, row.gateway_url)
            await delete_replica(self._sessions, row.id, beat=row.beat)
            del self._sightings[row.id]  # if it beats again, its age counts from then
        return live_peer_urls(
            rows,
            self._sightings,
            own_id=self._own_id,
            own_url=self._own_url,
            now=now,
            stale_after_s=self._stale_after_s,
        )
