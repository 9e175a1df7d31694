"""Leader election through the database, so only one server replica runs the controller.

A lease is a row (`LeaseRow`): holder, version, term (and wall-clock times, for people).
A contender reads it and `decide()`s (pure): create it when absent, renew it when it holds
it, take it when it is released or has not changed for a whole lease, else wait. Writes
are optimistic: an UPDATE guarded by the version read (or an INSERT guarded by the primary
key), so of two contenders at most one succeeds.

No replica compares another's clock with its own (replicas' wall clocks may disagree by
any amount), as client-go's leaderelection does not:

- A follower measures a lease's age on its own monotonic clock, from when it last saw the
  lease's version change (`Sighting`); the lease is free once that age reaches `lease_s`.
- The leader counts, on its own monotonic clock, from the start of its last successful
  renewal, and stops leading (`on_lost`) once that reaches `renew_deadline_s` (shorter
  than the lease) without another success: a database call that hangs is abandoned at
  the deadline. Every follower's count began after that renewal's start, so the leader
  has stopped before any follower may take over (clock rates, not readings, must agree).
- Each holding has a `term`, raised whenever a holding begins; `on_elected` gets the
  `LeaseFence` of its term, and writes made under it (the controller's status writes,
  store/leases.py) are refused once the term has ended: a leader that stalled past all
  this and wakes up late cannot write.

`LeaderElector` is a loop on the injected clock (server/loop.py) that repeats this every
`retry_s`, and releases the lease on stop so a successor need not wait.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.loop import Loop
from sapwood.server.store.leases import LeaseFence
from sapwood.server.store.tables import LeaseRow

log = logging.getLogger("sapwood.server.leader")

CONTROLLER_LEASE = "controller"
RELEASED = ""  # the holder of a released lease
T = TypeVar("T")


class LeaseAction(StrEnum):
    CREATE = "create"
    RENEW = "renew"
    TAKE = "take"
    WAIT = "wait"


@dataclass(frozen=True)
class LeaseView:
    holder: str
    version: int
    term: int


@dataclass(frozen=True)
class Sighting:
    """A lease's version as a contender last saw it change, and when, in seconds of that
    contender's own monotonic clock."""

    version: int
    seen_at: float


def sighted(lease: LeaseView | None, last: Sighting | None, *, now: float) -> Sighting | None:
    """The sighting after reading `lease` at monotonic `now`: `last` while the version is
    the same, a new one from `now` when it changed; None when there is no lease."""
    if lease is None:
        return None
    if last is not None and last.version == lease.version:
        return last
    return Sighting(lease.version, now)


def decide(
    lease: LeaseView | None,
    *,
    holder: str,
    leading: bool,
    sighting: Sighting | None,
    now: float,
    lease_s: float,
) -> LeaseAction:
    """What `holder` should do about the lease at monotonic `now`, having last seen it
    change as `sighting` says. A holder that is not leading (it let a lapse end its
    holding) takes the lease again, so that every holding has its own term."""
    if lease is None:
        return LeaseAction.CREATE
    if lease.holder == holder:
        return LeaseAction.RENEW if leading else LeaseAction.TAKE
    if lease.holder == RELEASED:
        return LeaseAction.TAKE
    if sighting is None or sighting.version != lease.version:
        return LeaseAction.WAIT  # first seen now: its age counts from here
    if now - sighting.seen_at >= lease_s:
        return LeaseAction.TAKE
    return LeaseAction.WAIT


def still_leading(renewed_at: float | None, *, now: float, renew_deadline_s: float) -> bool:
    """Whether a leader whose last successful renewal began at monotonic `renewed_at`
    may still act at `now`."""
    return renewed_at is not None and now - renewed_at < renew_deadline_s


def default_holder() -> str:
    """Unique per process: host (the pod name in Kubernetes), pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def read_lease(sessions: async_sessionmaker[AsyncSession], name: str) -> LeaseView | None:
    """Lease `name` as stored; None when nobody ever held it."""
    async with sessions() as session:
        row = await session.get(LeaseRow, name)
        return None if row is None else LeaseView(row.holder, row.version, row.term)


async def write_lease(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    action: LeaseAction,
    lease: LeaseView | None,
    *,
    holder: str,
    now: datetime,
    duration: timedelta,
) -> LeaseView | None:
    """Carries out `action` on lease `name` as read (`lease`); returns the lease as
    written, or None when another contender wrote it first (or the action is WAIT)."""
    if action is LeaseAction.WAIT:
        return None
    times = {"renewed_at": now, "expires_at": now + duration}
    async with sessions() as session:
        if action is LeaseAction.CREATE:
            session.add(LeaseRow(name=name, holder=holder, version=1, term=1, **times))
            try:
                await session.commit()
            except IntegrityError:  # another contender created it first
                return None
            return LeaseView(holder, 1, 1)
        assert lease is not None  # only CREATE comes without a lease
        term = lease.term if action is LeaseAction.RENEW else lease.term + 1
        result = await session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.version == lease.version)
            .values(holder=holder, version=lease.version + 1, term=term, **times)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    if getattr(result, "rowcount", 0) != 1:
        return None
    return LeaseView(holder, lease.version + 1, term)


async def release(
    sessions: async_sessionmaker[AsyncSession], name: str, *, holder: str, now: datetime
) -> None:
    """Frees the lease for the next contender at once, if `holder` still holds it."""
    async with sessions() as session:
        await session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .values(holder=RELEASED, expires_at=now, version=LeaseRow.version + 1)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def current_holder(sessions: async_sessionmaker[AsyncSession], name: str) -> str | None:
    """Who holds lease `name` now, or held it last; None when released or never held."""
    async with sessions() as session:
        holder: str | None = await session.scalar(
            select(LeaseRow.holder).where(LeaseRow.name == name)
        )
        return holder or None


OnElected = Callable[[LeaseFence], Awaitable[None]]
OnLost = Callable[[], Awaitable[None]]


class LeaderElector(Loop):
    """Keeps trying to hold one lease; runs `on_elected`/`on_lost` on each change."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        on_elected: OnElected,
        on_lost: OnLost,
        name: str = CONTROLLER_LEASE,
        holder: str | None = None,
        lease_s: float = 15.0,
        renew_deadline_s: float | None = None,
        retry_s: float | None = None,
    ) -> None:
        """Defaults as client-go's proportions: renew deadline 2/3 of the lease, a try
        every fifth of it (three tries fail before a leader gives up)."""
        super().__init__(clock=clock, interval_s=retry_s or lease_s / 5)
        self.lease = name
        self.name = f"lease-{name}"
        self.holder = holder or default_holder()
        self.leading = False
        self.fence: LeaseFence | None = None  # the current holding's, while leading
        self._sessions = sessions
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._lease_s = lease_s
        self._renew_deadline_s = renew_deadline_s or lease_s * 2 / 3
        if self._renew_deadline_s >= lease_s:
            raise ValueError(
                f"the renew deadline ({self._renew_deadline_s} s) must be shorter than "
                f"the lease ({lease_s} s)"
            )
        self._sighting: Sighting | None = None
        self._renewed_at: float | None = None  # monotonic start of the last renewal

    async def step(self) -> bool:
        """One round: step down past the renew deadline, then read the lease and act on
        it, the database given until that deadline. Returns `leading`."""
        began = self.clock.monotonic()
        if self.leading and not self._may_act(began):
            await self._lose("could not renew it within its renew deadline")
        try:
            written = await self._before_deadline(self._attempt(began))
        except (SQLAlchemyError, TimeoutError) as error:
            why = "timed out" if isinstance(error, TimeoutError) else "failed"
            log.warning("lease %s: the database %s", self.lease, why, exc_info=True)
            if self.leading and not self._may_act(self.clock.monotonic()):
                await self._lose("could not renew it within its renew deadline")
            return self.leading
        if written is not None:
            self._renewed_at = began
            self._sighting = Sighting(written.version, began)
            if not self.leading:
                self.leading = True
                self.fence = LeaseFence(self.lease, self.holder, written.term)
                log.info("lease %s: %s leads (term %d)", self.lease, self.holder, written.term)
                await self._on_elected(self.fence)
        elif self.leading:
            await self._lose("another replica holds it")
        return self.leading

    async def _attempt(self, began: float) -> LeaseView | None:
        lease = await read_lease(self._sessions, self.lease)
        self._sighting = sighted(lease, self._sighting, now=began)
        action = decide(
            lease,
            holder=self.holder,
            leading=self.leading,
            sighting=self._sighting,
            now=began,
            lease_s=self._lease_s,
        )
        return await write_lease(
            self._sessions,
            self.lease,
            action,
            lease,
            holder=self.holder,
            now=self.clock.now(),
            duration=timedelta(seconds=self._lease_s),
        )

    def _may_act(self, now: float) -> bool:
        return still_leading(self._renewed_at, now=now, renew_deadline_s=self._renew_deadline_s)

    async def _before_deadline(self, work: Awaitable[T]) -> T:
        """`work`'s result, or TimeoutError once the renew deadline has passed on the
        clock (for a follower: a renew deadline from now)."""
        if self.leading and self._renewed_at is not None:
            left = self._renewed_at + self._renew_deadline_s - self.clock.monotonic()
        else:
            left = self._renew_deadline_s
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self.clock.sleep(max(0.0, left)))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise TimeoutError(f"no answer within {max(0.0, left):.1f} s")
        return task.result()

    async def _lose(self, why: str) -> None:
        self.leading = False
        self.fence = None
        log.warning("lease %s: %s stops leading: %s", self.lease, self.holder, why)
        await self._on_lost()

    async def start(self) -> None:
        """Takes a first round before returning, so a server that wins the lease starts its
        controller before it serves (an error there, such as a controller that cannot
        start, stops the server's start), then keeps renewing on the loop."""
        await self.step()
        await super().start()

    async def tick(self) -> float | None:
        await self.step()
        if self.leading and self._renewed_at is not None:
            # Wake at the renew deadline at the latest, to stop acting in time.
            left = self._renewed_at + self._renew_deadline_s - self.clock.monotonic()
            return max(0.0, min(self.interval_s, left))
        return None

    async def on_stop(self) -> None:
        """If leading, runs `on_lost` and releases the lease."""
        if self.leading:
            await self._lose("the server stops")
            try:
                await release(self._sessions, self.lease, holder=self.holder, now=self.clock.now())
            except SQLAlchemyError:
                log.warning("lease %s: could not release it", self.lease, exc_info=True)
