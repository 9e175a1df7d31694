"""Fencing with a lease's term: a leader's writes commit only while its holding lasts.

A replica that led and then stalled (a long pause, a partition from the database) may
wake up still believing it leads, with a round of writes in hand. Each holding of a lease
has its own `term` (server/leader.py starts one whenever a holding begins); a write made
under a `LeaseFence` checks, in its own transaction, that the lease still names that
holder and term, and is refused with `LeaseLostError` otherwise.

The check runs last, just before the commit. On PostgreSQL it takes a share lock on the
lease row, so a successor's take waits for the fenced transaction to end: the writes land
before the new term begins or not at all. On SQLite the transaction already holds the
database's write lock once it has written, so no take can commit in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import LeaseRow


@dataclass(frozen=True)
class LeaseFence:
    """One holding of a lease: who holds it, in which term."""

    lease: str
    holder: str
    term: int

    def describe(self) -> str:
        return f"lease {self.lease!r} (holder {self.holder}, term {self.term})"


class LeaseLostError(Exception):
    """The fence's holding has ended: another replica leads now, or the lease was
    released. The transaction's writes must be rolled back."""

    def __init__(self, fence: LeaseFence) -> None:
        super().__init__(
            f"{fence.describe()} is no longer held: this replica's controller writes are "
            "refused; another replica leads"
        )
        self.fence = fence


async def check_fence(session: AsyncSession, fence: LeaseFence) -> None:
    """Returns when `fence`'s holding still lasts, keeping it from ending before the
    caller's transaction does (see the module docstring); raises LeaseLostError when it
    has ended. Call it after the transaction's writes, before its commit."""
    held = await session.scalar(
        select(LeaseRow.term)
        .where(
            LeaseRow.name == fence.lease,
            LeaseRow.holder == fence.holder,
            LeaseRow.term == fence.term,
        )
        .with_for_update(read=True)
    )
    if held is None:
        raise LeaseLostError(fence)
