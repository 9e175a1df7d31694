"""HTTP-level behaviour: the OpenAPI document, body limits, malformed requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'http.db'}"


async def test_openapi_lists_every_route(api: Api) -> None:
    async with api.http() as http:
        spec = (await http.get("/api/v1/openapi.json")).json()
        docs = await http.get("/docs")
    assert docs.status_code == 200
    paths = spec["paths"]
    for path in ("/api/v1/apply", "/api/v1/{plural}", "/api/v1/{plural}/{name}", "/api/v1/tokens"):
        assert path in paths


async def test_oversized_body_gets_413(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        big = b'{"objects": [' + b" " * (9 * 1024 * 1024) + b"]}"
        response = await http.post(
            "/api/v1/apply", content=big, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]["message"]


async def test_streamed_oversized_body_gets_413(api: Api) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b" " * (1024 * 1024)

    async with api.http(api.admin_token) as http:
        response = await http.post("/api/v1/apply", content=chunks())
    assert response.status_code == 413


async def test_malformed_json_names_the_problem(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        response = await http.post(
            "/api/v1/apply", content=b'{"objects": [', headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert "invalid JSON" in json.dumps(response.json())


async def test_wrong_request_types_name_the_field(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        response = await http.post("/api/v1/apply", json={"objects": "nope"})
        empty = await http.post("/api/v1/apply", json={"objects": []})
        user = await http.post("/api/v1/users", json={"name": "Bad Name"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "objects"
    assert empty.status_code == 422
    assert user.status_code == 422
    assert user.json()["error"]["details"][0]["path"] == "name"
    assert "valid name" in user.json()["error"]["details"][0]["message"]


async def test_unknown_resource_is_404_listing_kinds(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        response = await http.get("/api/v1/pods")
    assert response.status_code == 404
    assert "workspaces, jobs, services" in response.json()["error"]["message"]


async def test_what_the_document_calls_invalid_is_refused(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        admin = await http.post("/api/v1/users", json={"name": "zero", "admin": 0})
        kind = await http.get("/api/v1/events", params={"kind": ""})
        name = await http.delete("/api/v1/teams/Bad_Name")
    # 0 is not a boolean: it used to create a user quietly
    assert admin.status_code == 422, admin.text
    assert admin.json()["error"]["details"][0]["path"] == "admin"
    # an empty kind used to list every kind's events
    assert kind.status_code == 422, kind.text
    assert "unknown kind ''" in kind.json()["error"]["message"]
    # a name that cannot exist is refused for what it is, naming the parameter
    assert name.status_code == 422, name.text
    detail = name.json()["error"]["details"][0]
    assert detail["path"] == "path.name"
    assert "'Bad_Name' is not a valid name" in detail["message"]
