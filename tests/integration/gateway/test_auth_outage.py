"""The gateway's token checks while the store is unreachable, on SQLite and PostgreSQL: a
token that passed a check keeps passing for a while, any other token is not admitted, and
a revocation takes effect once the store is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sapwood.server.app import create_app
from sapwood.server.gateway.auth import STORE_UNREACHABLE, TokenAuth
from sapwood.server.services.access import Caller
from sapwood.server.store.engine import create_engine, is_sqlite
from sapwood.testing.clock import FakeClock
from tests.support import Api
from tests.support_outage import Outage, outage_settings, outage_switch

pytestmark = pytest.mark.anyio


@pytest.fixture
async def outage(database_url: str, tmp_path: Path) -> AsyncIterator[Outage]:
    async with outage_switch(database_url, tmp_path) as switch:
        yield switch


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bearer(token: str) -> bytes:
    return f"Bearer {token}".encode()


async def test_a_checked_token_outlives_a_store_outage_and_no_other_does(
    outage: Outage, tmp_path: Path, clock: FakeClock
) -> None:
    tokens: list[str] = []
    app = create_app(outage_settings(outage, tmp_path), clock=clock, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        await api.admin.create_user("member", teams={"default": "member"})
        checked = await api.admin.create_token(user="member")
        unchecked = (await api.admin.create_token(user="member")).token
        unknown = checked.token[:-4] + "xxxx"  # the right id, the wrong secret
        engine = create_engine(outage.url)
        ticks = Ticks()
        auth = TokenAuth(engine, now=clock.now, monotonic=ticks, ttl_s=5.0, max_stale_s=600.0)
        try:
            passed = await auth.check(bearer(checked.token))
            assert isinstance(passed, Caller)
            assert passed.user == "member"
            assert await auth.check(bearer(unknown)) == "unknown token"

            await outage.cut()
            if is_sqlite(outage.url):
                await engine.dispose()  # open SQLite connections outlive their file's folder
            ticks.now += 60  # past the 5 s cache: the store is asked, and cannot answer
            still = await auth.check(bearer(checked.token))
            assert isinstance(still, Caller)
            assert still.user == "member"
            for never_passed in (unchecked, unknown):
                with pytest.raises(STORE_UNREACHABLE):
                    await auth.check(bearer(never_passed))
            ticks.now += 600  # its last check is now too old to lean on
            with pytest.raises(STORE_UNREACHABLE):
                await auth.check(bearer(checked.token))

            await outage.mend()
            await api.admin.revoke_token(checked.id)
            assert await auth.check(bearer(checked.token)) == "this token was revoked"
        finally:
            await engine.dispose()
            await api.admin.aclose()
