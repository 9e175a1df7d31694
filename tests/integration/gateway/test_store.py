"""The gateway over a real store: routes from Service objects, tokens from the tokens table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from sapwood.server.gateway.server import build_gateway
from sapwood.server.settings import Settings
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.server.store.tables import ObjectRow
from sapwood.testing.waiting import eventually
from tests.integration.gateway.support import running_gateway, upstreams
from tests.support import Api, service

pytestmark = pytest.mark.anyio


async def set_status(url: str, team: str, name: str, status: dict[str, Any]) -> None:
    """Writes what the controller would: the ready endpoints of a Service."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(
                update(ObjectRow)
                .where(ObjectRow.kind == "Service", ObjectRow.team == team, ObjectRow.name == name)
                .values(status=status)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def test_tokens_decide_who_reaches_a_service(api: Api, settings: Settings) -> None:
    admin = api.admin
    await admin.create_team("lab")
    await admin.create_team("other")
    await admin.create_user("member", teams={"lab": "viewer"})
    await admin.create_user("outsider", teams={"other": "member"})
    member = (await admin.create_token(user="member")).token
    outsider = (await admin.create_token(user="outsider")).token
    revoked = await admin.create_token(user="member")
    await admin.revoke_token(revoked.id)
    # Made on the tests' fake clock (2026-01-01): long expired by the gateway's real clock.
    expired = (await admin.create_token(user="member", expires_in=timedelta(seconds=1))).token
    await admin.apply(
        [service("echo", team="lab"), service("open", team="lab", gateway={"auth": "public"})]
    )

    with upstreams("a") as (replica,):
        for name in ("echo", "open"):
            await set_status(settings.database_url, "lab", name, {"endpoints": [replica.endpoint]})
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def call(path: str, token: str | None) -> httpx.Response:
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    return await http.get(path, headers=headers)

                async def ready() -> bool:
                    return (await call("/s/lab/open/", None)).status_code == 200

                await eventually(ready)
                assert (await call("/s/lab/echo/", None)).status_code == 401
                assert (await call("/s/lab/echo/", "sw_not_a_token")).status_code == 401
                refused = await call("/s/lab/echo/", revoked.token)
                assert refused.json()["error"]["message"] == "this token was revoked"
                assert refused.headers["www-authenticate"] == "Bearer"
                too_late = await call("/s/lab/echo/", expired)
                assert "expired" in too_late.json()["error"]["message"]
                hidden = await call("/s/lab/echo/", outsider)
                assert hidden.status_code == 404
                assert hidden.json()["error"]["message"] == "service echo not found in team lab"
                assert (await call("/s/lab/missing/", member)).status_code == 404

                answer = await call("/s/lab/echo/predict", member)
                assert answer.status_code == 200
                assert "authorization" not in answer.json()["headers"]
                assert (await call("/s/lab/echo/", api.admin_token)).status_code == 200


async def test_routes_follow_the_status_the_controller_writes(api: Api, settings: Settings) -> None:
    await api.admin.create_team("lab")
    await api.admin.apply([service("echo", team="lab", gateway={"auth": "public"})])
    with upstreams("a", "b") as (first, second):
        await set_status(settings.database_url, "lab", "echo", {"endpoints": [first.endpoint]})
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def answered_by(name: str) -> bool:
                    response = await http.get("/s/lab/echo/")
                    return response.status_code == 200 and response.json()["upstream"] == name

                await eventually(lambda: answered_by("a"))
                endpoints = {"endpoints": [second.endpoint]}
                await set_status(settings.database_url, "lab", "echo", endpoints)
                await eventually(lambda: answered_by("b"))
                await api.admin.delete("Service", "echo", team="lab")

                async def gone() -> bool:
                    return (await http.get("/s/lab/echo/")).status_code == 404

                await eventually(gone)
