"""Many clients setting the same alias at once, on SQLite and PostgreSQL: every request
succeeds, the alias ends on a version one of them sent, and a Service that names the alias
rolls once per real move, never once per request."""

from __future__ import annotations

import asyncio

import pytest

from sapwood.testing.documents import model_service
from tests.support import Api
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio

V1 = mlp_model(features=6, classes=2, seed=0)
V2 = mlp_model(features=6, classes=2, seed=1)
CLIENTS = 12


async def put_alias(api: Api, alias: str, version: int) -> int:
    async with api.http(api.admin_token) as http:
        path = f"/api/v1/teams/default/models/clf/aliases/{alias}"
        return (await http.put(path, json={"version": version})).status_code


async def test_creating_one_alias_from_many_clients_at_once_never_fails(api: Api) -> None:
    await api.admin.push_model(V1, name="clf", team="default")
    await api.admin.push_model(V2, name="clf", team="default")

    codes = await asyncio.gather(*(put_alias(api, "production", 1 + i % 2) for i in range(CLIENTS)))

    assert codes == [200] * CLIENTS
    model = await api.admin.get_model("clf", team="default")
    assert model.aliases["production"] in (1, 2)


async def test_moving_an_alias_from_many_clients_rolls_its_services_once(api: Api) -> None:
    await api.admin.push_model(V1, name="clf", alias="production", team="default")
    await api.admin.push_model(V2, name="clf", team="default")
    await api.admin.apply([model_service("web", "clf@production", team="default")])
    before = (await api.admin.get("service", "web", team="default")).metadata.generation

    codes = await asyncio.gather(*(put_alias(api, "production", 2) for _ in range(CLIENTS)))

    assert codes == [200] * CLIENTS
    assert (await api.admin.resolve_model("clf@production", team="default")).version == 2
    web = await api.admin.get("service", "web", team="default")
    assert web.metadata.generation == before + 1
    events = await api.admin.events("service", "web", team="default")
    moved = [e.message for e in events if e.reason == "ModelAliasMoved"]
    assert moved == [
        f"clf@production now points at version 2 (was 1): rolling out generation {before + 1}"
    ]
