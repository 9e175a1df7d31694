"""Concurrent applies of one object, on SQLite and PostgreSQL: without metadata.resourceVersion
every apply succeeds (the server retries a lost race, as Kubernetes does for unconditional
updates) and no write is lost; with a stale one the client gets 409."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import Api, job

pytestmark = pytest.mark.anyio

CLIENTS = 8


async def post_apply(api: Api, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with api.http(api.admin_token) as http:
        answer = await http.post("/api/v1/apply", json={"objects": [document]})
        return answer.status_code, answer.json()


async def test_creating_one_object_from_many_clients_at_once_succeeds(api: Api) -> None:
    answers = await asyncio.gather(
        *(post_apply(api, job("train", retries=i)) for i in range(CLIENTS))
    )

    assert [code for code, _ in answers] == [200] * CLIENTS, answers
    actions = sorted(body["results"][0]["action"] for _, body in answers)
    assert actions.count("created") == 1
    train = await api.admin.get("job", "train", team="default")
    # Every write that changed something is counted: none was lost.
    assert train.metadata.resource_version == CLIENTS - actions.count("unchanged")


async def test_updating_one_object_from_many_clients_at_once_succeeds(api: Api) -> None:
    await api.admin.apply([job("train")])

    answers = await asyncio.gather(
        *(post_apply(api, job("train", retries=i + 10)) for i in range(CLIENTS))
    )

    assert [code for code, _ in answers] == [200] * CLIENTS, answers
    assert {body["results"][0]["action"] for _, body in answers} == {"configured"}
    train = await api.admin.get("job", "train", team="default")
    assert train.metadata.generation == 1 + CLIENTS
    assert train.metadata.resource_version == 1 + CLIENTS


async def test_same_resource_version_from_many_clients_lets_one_win(api: Api) -> None:
    [created] = await api.admin.apply([job("train")])
    seen = created.object.metadata.resource_version

    def conditional(retries: int) -> dict[str, Any]:
        document = job("train", retries=retries)
        document["metadata"]["resourceVersion"] = seen
        return document

    answers = await asyncio.gather(*(post_apply(api, conditional(i + 10)) for i in range(CLIENTS)))

    codes = sorted(code for code, _ in answers)
    assert codes == [200] + [409] * (CLIENTS - 1), answers
    lost = next(body for code, body in answers if code == 409)
    assert lost["error"]["code"] == "conflict"
    assert f"you sent resourceVersion {seen}" in lost["error"]["message"]
