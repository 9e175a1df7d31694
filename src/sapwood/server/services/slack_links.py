"""Slack identity: which Sapwood user a Slack user acts as, the one-time codes that link
them, and the Slack interactions already handled.

Linking: ``/sapwood link`` calls ``start_link``, which stores only the sha256 of a new
code and hands the code back once, to be sent to that Slack user as a dashboard link
(``link_path``). A signed-in dashboard user confirms it (``confirm_link``); from then on
``linked_caller`` gives that Slack user the same ``Caller`` the API would give the
Sapwood user: the same admin flag and team roles, read fresh on every call.

Handled interactions: ``claim_interaction`` inserts a key (a trigger, view or envelope
id) under a primary key, so of any number of deliveries of one interaction, on any
number of server replicas, exactly one is told to act.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from sapwood.schemas import Role
from sapwood.server.auth.callers import Caller
from sapwood.server.services.errors import ForbiddenError, InvalidError
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import (
    MembershipRow,
    SlackDeliveryRow,
    SlackLinkCodeRow,
    SlackLinkRow,
    UserRow,
)

LINK_TTL = timedelta(minutes=15)
LINK_PATH = "/ui/slack/link"
AGAIN = "run `/sapwood link` in Slack again for a new link"  # ends every refusal of a code
# slack_deliveries.key is a String(255); a longer key is stored as its digest instead.
_KEY_LENGTH = 255


@dataclass(frozen=True)
class PendingLink:
    """A link code that may still be confirmed: the Slack user it would link."""

    slack_team: str
    slack_user: str
    expires_at: datetime


def code_hash(code: str) -> str:
    """What the store keeps of a code: its sha256, in hex."""
    return hashlib.sha256(code.encode()).hexdigest()


def link_path(code: str) -> str:
    """The dashboard path that confirms ``code`` (the app puts settings.public_url before
    it)."""
    return f"{LINK_PATH}?{urlencode({'code': code})}"


def code_refusal(row: SlackLinkCodeRow | None, *, now: datetime) -> str | None:
    """Why a code cannot be confirmed (unknown, already used, expired); None when it can."""
    if row is None:
        return "this Slack link is unknown or was replaced by a newer one"
    if row.used_at is not None:
        return "this Slack link was already used"
    if row.expires_at <= now:
        minutes = int(LINK_TTL.total_seconds() // 60)
        return f"this Slack link expired (a link lasts {minutes} minutes)"
    return None


async def linked_caller(session: AsyncSession, slack_team: str, slack_user: str) -> Caller | None:
    """The caller a linked Slack user acts as: its Sapwood user, admin flag and team roles
    as the API reads them for a token (``token_id`` is empty: no token is involved).
    None when the Slack user is not linked, or its Sapwood user is gone."""
    # The link, its user and the user's teams in one query, as check_token does.
    found = (
        await session.execute(
            select(SlackLinkRow.user, UserRow.admin, MembershipRow.team, MembershipRow.role)
            .join(UserRow, UserRow.name == SlackLinkRow.user)
            .outerjoin(MembershipRow, MembershipRow.user == SlackLinkRow.user)
            .where(SlackLinkRow.slack_team == slack_team, SlackLinkRow.slack_user == slack_user)
        )
    ).all()
    if not found:
        return None
    roles = {team: Role(role) for _, _, team, role in found if team is not None}
    return Caller(user=found[0][0], admin=found[0][1], roles=roles, token_id="")


async def start_link(
    session: AsyncSession, slack_team: str, slack_user: str, *, now: datetime
) -> str:
    """A new one-time code linking this Slack user, valid for LINK_TTL; commits.

    Only the code's hash is stored, so the code is returned here once and never again.
    Any earlier code of the same Slack user stops working, and expired codes of anyone
    are cleared out.
    """
    code = secrets.token_urlsafe(24)
    await session.execute(
        delete(SlackLinkCodeRow).where(
            (
                (SlackLinkCodeRow.slack_team == slack_team)
                & (SlackLinkCodeRow.slack_user == slack_user)
            )
            | (SlackLinkCodeRow.expires_at <= now)
        )
    )
    session.add(
        SlackLinkCodeRow(
            code_hash=code_hash(code),
            slack_team=slack_team,
            slack_user=slack_user,
            expires_at=now + LINK_TTL,
            used_at=None,
        )
    )
    await session.commit()
    return code


async def pending_link(session: AsyncSession, code: str, *, now: datetime) -> PendingLink:
    """The Slack user a code would link, without using it up. InvalidError when the code
    is unknown, used or expired (saying to run ``/sapwood link`` again)."""
    row = await session.get(SlackLinkCodeRow, code_hash(code)) if code else None
    refusal = code_refusal(row, now=now)
    if refusal is not None:
        raise InvalidError(f"{refusal}: {AGAIN}")
    assert row is not None  # code_refusal refuses a missing row
    return PendingLink(row.slack_team, row.slack_user, row.expires_at)


async def confirm_link(session: AsyncSession, caller: Caller, code: str, *, now: datetime) -> str:
    """Links the code's Slack user to ``caller.user`` and uses the code up; returns the
    Slack user id; commits.

    A Slack user already linked to someone else is linked to ``caller.user`` instead.
    ForbiddenError for a workload's token (a Slack user acts as a person, never as a
    workload); InvalidError when the code is unknown, used or expired, saying to run
    ``/sapwood link`` again. Of two confirmations of one code, only one succeeds.
    """
    if caller.scope is not None:
        raise ForbiddenError(
            f"a workload's token (of {caller.scope}) cannot link a Slack user",
            hint="sign in to the dashboard with your own token and open the link again",
        )
    pending = await pending_link(session, code, now=now)
    # Conditional on the code being unused: a second confirmation racing this one (another
    # tab, another replica) updates no row and is refused.
    used: Any = await session.execute(
        update(SlackLinkCodeRow)
        .where(SlackLinkCodeRow.code_hash == code_hash(code), SlackLinkCodeRow.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:
        await session.rollback()
        raise InvalidError(f"this Slack link was already used: {AGAIN}")
    link = await session.get(SlackLinkRow, (pending.slack_team, pending.slack_user))
    if link is None:
        session.add(
            SlackLinkRow(
                slack_team=pending.slack_team,
                slack_user=pending.slack_user,
                user=caller.user,
                linked_at=now,
            )
        )
    else:
        link.user, link.linked_at = caller.user, now
    await session.commit()
    return pending.slack_user


async def unlink(session: AsyncSession, slack_team: str, slack_user: str) -> bool:
    """Removes a Slack user's link; returns whether there was one; commits. Idempotent."""
    result: Any = await session.execute(
        delete(SlackLinkRow).where(
            SlackLinkRow.slack_team == slack_team, SlackLinkRow.slack_user == slack_user
        )
    )
    await session.commit()
    return bool(result.rowcount)


async def slack_users_of(session: AsyncSession, user: str) -> list[tuple[str, str]]:
    """The Slack users (slack_team, slack_user) linked to a Sapwood user, in a stable
    order; empty when none."""
    rows = await session.execute(
        select(SlackLinkRow.slack_team, SlackLinkRow.slack_user)
        .where(SlackLinkRow.user == user)
        .order_by(SlackLinkRow.slack_team, SlackLinkRow.slack_user)
    )
    return [(team, slack_user) for team, slack_user in rows.all()]


def delivery_key(key: str) -> str:
    """The key as stored: itself, or its sha256 when longer than the column holds."""
    if len(key) <= _KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def claim_interaction(session: AsyncSession, key: str, *, now: datetime) -> bool:
    """True the first time ``key`` is claimed (committed at once); False when it was
    claimed before, by this replica or another.

    The primary key decides: of two sessions racing on one key, the store lets one insert
    commit and fails the other. Call it in a session with no writes pending: a refused
    claim rolls the session back.
    """
    session.add(SlackDeliveryRow(key=delivery_key(key), created_at=now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def prune_interactions(session: AsyncSession, *, before: datetime) -> int:
    """Forgets interactions claimed before ``before``; returns how many; commits. Slack
    retries for minutes at most, so keys older than that guard nothing."""
    result: Any = await session.execute(
        delete(SlackDeliveryRow).where(SlackDeliveryRow.created_at < before)
    )
    await session.commit()
    return int(result.rowcount or 0)
