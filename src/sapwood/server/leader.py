"""Leader election through the database, so only one server replica runs the controller.

A lease is a row (`LeaseRow`): holder, renewed_at, expires_at, version. A contender reads
it and `decide()`s (pure): create it when absent, renew it when it holds it, take it when
it has expired, else wait. Writes are optimistic: an UPDATE guarded by the version read
(or an INSERT guarded by the primary key), so of two contenders at most one succeeds.

`LeaderElector` is a loop on the injected clock (server/loop.py) that repeats that every
`lease_s / 3`, so a holder renews three times per lease and one missed round never loses
it; it calls `on_elected` when it becomes the leader and `on_lost` when it stops being one
(another took the lease, or it could not renew before its own lease ran out), and releases
the lease on stop so a successor need not wait for the expiry. Times come from the injected
clock; replicas must have roughly synchronised wall clocks (as with Kubernetes' own Lease
objects).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.loop import Loop
from sapwood.server.store.tables import LeaseRow

log = logging.getLogger("sapwood.server.leader")

CONTROLLER_LEASE = "controller"


class LeaseAction(StrEnum):
    CREATE = "create"
    RENEW = "renew"
    TAKE = "take"
    WAIT = "wait"


@dataclass(frozen=True)
class LeaseView:
    holder: str
    expires_at: datetime
    version: int


def decide(lease: LeaseView | None, *, holder: str, now: datetime) -> LeaseAction:
    """What `holder` should do about the lease at `now`."""
    if lease is None:
        return LeaseAction.CREATE
    if lease.holder == holder:
        return LeaseAction.RENEW
    if now >= lease.expires_at:
        return LeaseAction.TAKE
    return LeaseAction.WAIT


def default_holder() -> str:
    """Unique per process: host (the pod name in Kubernetes), pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def try_acquire(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    *,
    holder: str,
    now: datetime,
    duration: timedelta,
) -> bool:
    """One attempt to hold lease `name` until now + duration; True when held."""
    async with sessions() as session:
        row = await session.get(LeaseRow, name)
        view = None if row is None else LeaseView(row.holder, row.expires_at, row.version)
        action = decide(view, holder=holder, now=now)
        if action is LeaseAction.WAIT:
            return False
        if action is LeaseAction.CREATE:
            session.add(
                LeaseRow(
                    name=name, holder=holder, renewed_at=now, expires_at=now + duration, version=1
                )
            )
            try:
                await session.commit()
            except IntegrityError:  # another contender created it first
                return False
            return True
        assert view is not None  # only CREATE comes without a lease
        result = await session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.version == view.version)
            .values(
                holder=holder, renewed_at=now, expires_at=now + duration, version=view.version + 1
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


async def release(
    sessions: async_sessionmaker[AsyncSession], name: str, *, holder: str, now: datetime
) -> None:
    """Let the lease expire now, if `holder` still holds it."""
    async with sessions() as session:
        await session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .values(expires_at=now, version=LeaseRow.version + 1)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def current_holder(sessions: async_sessionmaker[AsyncSession], name: str) -> str | None:
    """Who holds lease `name` now (expired or not); None when nobody ever did."""
    async with sessions() as session:
        holder: str | None = await session.scalar(
            select(LeaseRow.holder).where(LeaseRow.name == name)
        )
        return holder


Callback = Callable[[], Awaitable[None]]


class LeaderElector(Loop):
    """Keeps trying to hold one lease; runs `on_elected`/`on_lost` on each change."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        on_elected: Callback,
        on_lost: Callback,
        name: str = CONTROLLER_LEASE,
        holder: str | None = None,
        lease_s: float = 15.0,
    ) -> None:
        super().__init__(clock=clock, interval_s=lease_s / 3)
        self.lease = name
        self.name = f"lease-{name}"
        self.holder = holder or default_holder()
        self.leading = False
        self._sessions = sessions
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._lease = timedelta(seconds=lease_s)
        self._held_until: datetime | None = None

    async def step(self) -> bool:
        """One round: try to acquire or renew, then act on a change. Returns `leading`."""
        now = self.clock.now()
        try:
            held = await try_acquire(
                self._sessions, self.lease, holder=self.holder, now=now, duration=self._lease
            )
        except SQLAlchemyError:
            log.warning("lease %s: the database did not answer", self.lease, exc_info=True)
            # Keep leading only while the lease we hold has not run out.
            held = self.leading and self._held_until is not None and now < self._held_until
        else:
            if held:
                self._held_until = now + self._lease
        if held and not self.leading:
            self.leading = True
            log.info("lease %s: %s is the leader", self.lease, self.holder)
            await self._on_elected()
        elif not held and self.leading:
            self.leading = False
            log.warning("lease %s: %s lost the lead", self.lease, self.holder)
            await self._on_lost()
        return self.leading

    async def start(self) -> None:
        """Takes a first round before returning, so a server that wins the lease starts its
        controller before it serves (an error there, such as a controller that cannot
        start, stops the server's start), then keeps renewing on the loop."""
        await self.step()
        await super().start()

    async def tick(self) -> None:
        await self.step()

    async def on_stop(self) -> None:
        """If leading, runs `on_lost` and releases the lease."""
        if self.leading:
            self.leading = False
            await self._on_lost()
            try:
                await release(self._sessions, self.lease, holder=self.holder, now=self.clock.now())
            except SQLAlchemyError:
                log.warning("lease %s: could not release it", self.lease, exc_info=True)
