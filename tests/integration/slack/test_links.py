"""Slack users linked to Sapwood users (services/slack_links.py), and handled-interaction
claims, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.schemas import Role
from sapwood.server.auth.callers import Caller, can_write
from sapwood.server.auth.scope import WorkloadScope
from sapwood.server.services import slack_links
from sapwood.server.services.errors import ForbiddenError, InvalidError
from sapwood.server.store.tables import SlackLinkCodeRow
from sapwood.testing.clock import FakeClock
from tests.support import Api

pytestmark = pytest.mark.anyio
TEAM = "T_ACME"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(api: Api) -> Sessions:
    await api.admin.create_team("alpha")
    await api.admin.create_user("mia", teams={"alpha": "member", "default": "viewer"})
    await api.admin.create_user("vera", teams={"alpha": "viewer"})
    found: Sessions = api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    return found


def person(name: str) -> Caller:
    """A dashboard user as the dashboard authenticates one (the roles do not matter to
    linking: the link stores only the user's name)."""
    return Caller(user=name, admin=False, token_id="tok")


async def link(sessions: Sessions, clock: FakeClock, slack_user: str, user: str) -> str:
    async with sessions() as session:
        code = await slack_links.start_link(session, TEAM, slack_user, now=clock.now())
    async with sessions() as session:
        return await slack_links.confirm_link(session, person(user), code, now=clock.now())


async def caller_of(sessions: Sessions, slack_user: str) -> Caller | None:
    async with sessions() as session:
        return await slack_links.linked_caller(session, TEAM, slack_user)


async def refusal(sessions: Sessions, clock: FakeClock, code: str) -> str:
    """Why confirming ``code`` is refused."""
    async with sessions() as session:
        with pytest.raises(InvalidError) as info:
            await slack_links.confirm_link(session, person("mia"), code, now=clock.now())
    return info.value.message


async def test_a_confirmed_code_links_the_slack_user_until_unlinked(
    sessions: Sessions, clock: FakeClock
) -> None:
    assert await caller_of(sessions, "U_MIA") is None
    async with sessions() as session:
        code = await slack_links.start_link(session, TEAM, "U_MIA", now=clock.now())
    assert slack_links.link_path(code) == f"/ui/slack/link?code={code}"
    async with sessions() as session:
        stored = (await session.scalars(select(SlackLinkCodeRow))).all()
    assert [r.code_hash for r in stored] == [slack_links.code_hash(code)]
    assert code not in repr([vars(r) for r in stored])  # only its hash is kept

    async with sessions() as session:
        linked = await slack_links.confirm_link(session, person("mia"), code, now=clock.now())
    assert linked == "U_MIA"
    caller = await caller_of(sessions, "U_MIA")
    assert caller == Caller(
        user="mia", admin=False, roles={"alpha": Role.MEMBER, "default": Role.VIEWER}
    )
    async with sessions() as session:
        assert await slack_links.slack_users_of(session, "mia") == [(TEAM, "U_MIA")]
        assert await slack_links.linked_caller(session, "T_OTHER", "U_MIA") is None
        assert await slack_links.unlink(session, TEAM, "U_MIA") is True
        assert await slack_links.unlink(session, TEAM, "U_MIA") is False
        assert await slack_links.slack_users_of(session, "mia") == []
    assert await caller_of(sessions, "U_MIA") is None


async def test_a_viewer_stays_a_viewer_and_roles_follow_memberships(
    api: Api, sessions: Sessions, clock: FakeClock
) -> None:
    await link(sessions, clock, "U_VERA", "vera")
    await link(sessions, clock, "U_ROOT", "admin")

    vera = await caller_of(sessions, "U_VERA")
    assert vera is not None
    assert (vera.user, vera.admin, dict(vera.roles)) == ("vera", False, {"alpha": Role.VIEWER})
    assert not can_write(vera, "alpha")
    root = await caller_of(sessions, "U_ROOT")
    assert root is not None
    assert root.admin

    await api.admin.set_membership("vera", "alpha", "member")
    vera = await caller_of(sessions, "U_VERA")
    assert vera is not None
    assert can_write(vera, "alpha")
    await api.admin.delete_user("vera")
    assert await caller_of(sessions, "U_VERA") is None


async def test_expired_used_and_replaced_codes_are_refused(
    sessions: Sessions, clock: FakeClock
) -> None:
    async with sessions() as session:
        old = await slack_links.start_link(session, TEAM, "U_MIA", now=clock.now())
        code = await slack_links.start_link(session, TEAM, "U_MIA", now=clock.now())

    assert "replaced by a newer one" in await refusal(sessions, clock, old)
    assert "unknown" in await refusal(sessions, clock, "not-a-code")
    async with sessions() as session:  # the newer one still works, once
        await slack_links.confirm_link(session, person("mia"), code, now=clock.now())
    used = await refusal(sessions, clock, code)
    assert "already used" in used
    assert "/sapwood link" in used

    async with sessions() as session:
        late = await slack_links.start_link(session, TEAM, "U_VERA", now=clock.now())
    clock.advance(slack_links.LINK_TTL)
    expired = await refusal(sessions, clock, late)
    assert "expired" in expired
    assert "/sapwood link" in expired
    assert await caller_of(sessions, "U_VERA") is None


async def test_relinking_replaces_the_link_and_a_workload_token_cannot_link(
    sessions: Sessions, clock: FakeClock
) -> None:
    await link(sessions, clock, "U_MIA", "vera")
    await link(sessions, clock, "U_MIA", "mia")
    caller = await caller_of(sessions, "U_MIA")
    assert caller is not None
    assert caller.user == "mia"
    async with sessions() as session:
        assert await slack_links.slack_users_of(session, "vera") == []

    workload = Caller(
        "mia", admin=False, token_id="w", scope=WorkloadScope.parse("Job/alpha/train")
    )
    async with sessions() as session:
        code = await slack_links.start_link(session, TEAM, "U_BOT", now=clock.now())
        with pytest.raises(ForbiddenError, match="workload's token"):
            await slack_links.confirm_link(session, workload, code, now=clock.now())
        # Refused before the code was spent: its owner can still confirm it.
        assert await slack_links.confirm_link(session, person("mia"), code, now=clock.now())


async def test_two_confirmations_of_one_code_link_once(
    sessions: Sessions, clock: FakeClock
) -> None:
    async with sessions() as session:
        code = await slack_links.start_link(session, TEAM, "U_MIA", now=clock.now())

    async def confirm(user: str) -> str | None:
        async with sessions() as session:
            try:
                await slack_links.confirm_link(session, person(user), code, now=clock.now())
            except InvalidError:
                return None
            return user

    winners = [u for u in await asyncio.gather(confirm("mia"), confirm("vera")) if u]
    assert len(winners) == 1
    caller = await caller_of(sessions, "U_MIA")
    assert caller is not None
    assert caller.user == winners[0]


async def test_an_interaction_is_claimed_once(sessions: Sessions, clock: FakeClock) -> None:
    async with sessions() as session:
        assert await slack_links.claim_interaction(session, "view:V1", now=clock.now())
        assert not await slack_links.claim_interaction(session, "view:V1", now=clock.now())
        # The session is still usable after a refused claim.
        assert await slack_links.claim_interaction(session, "view:V2", now=clock.now())
    long_key = "shortcut:" + "x" * 400
    async with sessions() as session:
        assert await slack_links.claim_interaction(session, long_key, now=clock.now())
        assert not await slack_links.claim_interaction(session, long_key, now=clock.now())


async def test_racing_replicas_claim_an_interaction_exactly_once(
    sessions: Sessions, clock: FakeClock
) -> None:
    async def claim(key: str) -> bool:
        async with sessions() as session:
            return await slack_links.claim_interaction(session, key, now=clock.now())

    for n in range(5):
        won = await asyncio.gather(*(claim(f"command:T{n}") for _ in range(3)))
        assert sorted(won) == [False, False, True], n


async def test_pruned_interactions_can_be_claimed_again(
    sessions: Sessions, clock: FakeClock
) -> None:
    async with sessions() as session:
        assert await slack_links.claim_interaction(session, "old", now=clock.now())
        clock.advance(timedelta(minutes=10))
        assert await slack_links.claim_interaction(session, "new", now=clock.now())
        cut = clock.now() - timedelta(minutes=5)
        assert await slack_links.prune_interactions(session, before=cut) == 1
        assert await slack_links.claim_interaction(session, "old", now=clock.now())
        assert not await slack_links.claim_interaction(session, "new", now=clock.now())
