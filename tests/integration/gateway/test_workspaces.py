"""Workspaces through the gateway: /w/TEAM/NAME/ for the team's members, nobody else."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from sapwood.server.gateway.server import build_gateway
from sapwood.server.secrets import load_or_create_key, workload_token
from sapwood.server.settings import Settings
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.server.store.tables import ObjectRow
from sapwood.testing.waiting import eventually
from tests.integration.gateway.support import running_gateway, upstreams
from tests.support import Api, workspace

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def jupyter(name: str, team: str) -> dict[str, Any]:
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Workspace",
        "metadata": {"name": name, "team": team},
        "spec": {"tool": "jupyter"},
    }


async def running_at(url: str, team: str, name: str, address: str) -> None:
    """Writes what the controller does once the workspace's replica is ready."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(
                update(ObjectRow)
                .where(
                    ObjectRow.kind == "Workspace", ObjectRow.team == team, ObjectRow.name == name
                )
                .values(status={"phase": "Running", "url": address})
            )
            await session.commit()
    finally:
        await engine.dispose()


async def people(api: Api) -> dict[str, str]:
    admin = api.admin
    await admin.create_team("lab")
    await admin.create_team("other")
    await admin.create_user("member", teams={"lab": "member"})
    await admin.create_user("viewer", teams={"lab": "viewer"})
    await admin.create_user("outsider", teams={"other": "admin"})
    return {
        who: (await admin.create_token(user=who)).token for who in ("member", "viewer", "outsider")
    }


async def test_a_member_reaches_a_workspace_and_others_do_not(api: Api, settings: Settings) -> None:
    tokens = await people(api)
    await api.admin.apply([jupyter("nb", "lab"), workspace("app", team="lab")])
    uid = (await api.admin.get("Workspace", "nb", team="lab")).metadata.uid
    own_token = workload_token(load_or_create_key(settings.home / "secret.key"), uid).token

    with upstreams("nb", "app") as (nb, app):
        await running_at(settings.database_url, "lab", "nb", f"http://{nb.endpoint}/w/lab/nb/")
        await running_at(settings.database_url, "lab", "app", f"http://{app.endpoint}/")
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def call(path: str, who: str | None) -> httpx.Response:
                    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
                    return await http.get(path, headers=headers)

                async def ready() -> bool:
                    return (await call("/w/lab/nb/lab", "member")).status_code == 200

                await eventually(ready)
                seen = (await call("/w/lab/nb/api/kernels?x=1", "member")).json()
                # JupyterLab gets the whole path (its base URL) and its own token, never ours.
                assert seen["url"] == "/w/lab/nb/api/kernels?x=1"
                assert seen["headers"]["authorization"] == f"token {own_token}"
                assert seen["headers"]["host"] == url.removeprefix("http://")
                # A `tool: command` workspace gets the path below its prefix, as a service.
                plain = (await call("/w/lab/app/index.html", "member")).json()
                assert plain["url"] == "/index.html"
                assert "authorization" not in plain["headers"]

                missing = await call("/w/lab/nb/", None)
                assert missing.status_code == 401
                assert "/w/lab/nb/?token=sw_" in missing.json()["error"]["message"]
                hidden = await call("/w/lab/nb/", "outsider")
                assert hidden.status_code == 404
                assert hidden.json()["error"]["message"] == "workspace nb not found in team lab"
                assert (await call("/w/lab/missing/", "member")).status_code == 404
                viewer = await call("/w/lab/nb/", "viewer")
                assert viewer.status_code == 403
                assert "runs code as its team" in viewer.json()["error"]["message"]


async def test_a_browser_signs_in_once_with_token_in_the_address(
    api: Api, settings: Settings
) -> None:
    tokens = await people(api)
    await api.admin.apply([jupyter("nb", "lab")])

    with upstreams("nb") as (nb,):
        await running_at(settings.database_url, "lab", "nb", f"http://{nb.endpoint}/w/lab/nb/")
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                first = await http.get(f"/w/lab/nb/lab?token={tokens['member']}&x=1")
                assert first.status_code == 303
                assert first.headers["location"] == "/w/lab/nb/lab?x=1"
                cookie = first.headers["set-cookie"]
                assert "Path=/w/lab/nb/" in cookie
                assert "HttpOnly" in cookie

                async def ready() -> bool:
                    return (await http.get("/w/lab/nb/lab?x=1")).status_code == 200

                await eventually(ready)  # the cookie, kept by the client, signs it in
                both = f"theme=dark; sapwood_token={tokens['member']}"
                seen = (await http.get("/w/lab/nb/lab", headers={"cookie": both})).json()
                assert seen["headers"]["cookie"] == "theme=dark"  # ours is not passed on

                http.cookies.clear()
                refused = await http.get(f"/w/lab/nb/?token={tokens['outsider']}")
                assert refused.status_code == 404
                assert "set-cookie" not in refused.headers


async def test_the_dashboards_session_cookie_opens_a_workspace(
    api: Api, settings: Settings
) -> None:
    """A member signed in to the dashboard follows its Open link: the session cookie
    (cookies ignore the port) signs the gateway in, and never reaches the workspace."""
    tokens = await people(api)
    await api.admin.apply([jupyter("nb", "lab")])
    with upstreams("nb") as (nb,):
        await running_at(settings.database_url, "lab", "nb", f"http://{nb.endpoint}/w/lab/nb/")
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def opened(who: str) -> httpx.Response:
                    cookie = f"theme=dark; sapwood_session={tokens[who]}"
                    return await http.get("/w/lab/nb/lab", headers={"cookie": cookie})

                async def ready() -> bool:
                    return (await opened("member")).status_code == 200

                await eventually(ready)
                seen = (await opened("member")).json()
                assert seen["headers"]["cookie"] == "theme=dark"
                assert (await opened("outsider")).status_code == 404


@contextlib.asynccontextmanager
async def websocket_replica() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A replica that answers an upgrade with 101 and echoes every byte after it."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n")
        while data := await reader.read(1024):
            writer.write(data.upper())
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], heads
    finally:
        server.close()


async def test_websocket_upgrades_are_tunnelled_for_members(api: Api, settings: Settings) -> None:
    tokens = await people(api)
    await api.admin.apply([jupyter("nb", "lab")])
    async with websocket_replica() as (port, heads):
        await running_at(settings.database_url, "lab", "nb", f"http://127.0.0.1:{port}/w/lab/nb/")
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            gateway_port = int(url.rsplit(":", 1)[1])

            async def upgrade(who: str) -> tuple[bytes, asyncio.StreamWriter]:
                reader, writer = await asyncio.open_connection("127.0.0.1", gateway_port)
                writer.write(
                    b"GET /w/lab/nb/api/kernels/k1/channels HTTP/1.1\r\nhost: gw\r\n"
                    b"connection: Upgrade\r\nupgrade: websocket\r\n"
                    b"authorization: Bearer %s\r\n\r\nhello" % tokens[who].encode()
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                rest = await asyncio.wait_for(reader.read(5), 10) if b" 101 " in head else b""
                writer.close()
                return head + rest, writer

            answer, _ = await upgrade("member")
            assert answer.startswith(b"HTTP/1.1 101 ")
            assert answer.endswith(b"HELLO")  # the bytes after the head reached the replica
            assert b"upgrade: websocket" in heads[0].lower()
            assert b"authorization: token " in heads[0]

            refused, _ = await upgrade("outsider")
            assert refused.startswith(b"HTTP/1.1 404 ")
            assert len(heads) == 1
