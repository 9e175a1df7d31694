"""The API under abuse: huge or odd input is a 4xx naming the field, never a 500 or a stall."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sapwood.server.app import create_app
from sapwood.server.services import objects
from sapwood.server.settings import RuntimeSettings, Settings
from sapwood.specs.objects import AnyObject, parse_object
from sapwood.testing import documents
from sapwood.testing.clock import FakeClock
from tests.support import Api, job
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio

BIG = 2**63  # one past what a BIGINT holds
HUGE = 10**30


def feed(name: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return documents.feed(name, schema=columns, model="clf@prod")


def continue_after(after: int) -> str:
    raw = json.dumps({"after": after}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def refused(response: httpx.Response, path: str) -> str:
    """The message for ``path`` in a 422 body."""
    assert response.status_code == 422, response.text
    details = {d["path"]: d["message"] for d in response.json()["error"]["details"]}
    assert path in details, details
    return str(details[path])


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with api.http(api.admin_token) as client:
        yield client


async def test_a_feed_of_100000_columns_is_refused_even_as_a_dry_run(
    http: httpx.AsyncClient,
) -> None:
    columns = [{"name": f"c{i}"} for i in range(100_000)]
    body = {"objects": [feed("wide", columns)], "dryRun": True}
    response = await http.post("/api/v1/apply", json=body)
    message = await refused(response, "objects[0].spec.schema")
    assert message == "at most 10000 schema columns are allowed, got 100000"


async def test_apply_validates_off_the_event_loop(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large document takes a while to validate: other requests must go on meanwhile,
    # so the parsing happens in a worker thread, not on the loop's thread.
    threads: list[threading.Thread] = []

    def parse(document: object) -> AnyObject:
        threads.append(threading.current_thread())
        return parse_object(document)

    monkeypatch.setattr(objects, "parse_object", parse)
    response = await http.post("/api/v1/apply", json={"objects": [job("train")], "dryRun": True})
    assert response.status_code == 200, response.text
    assert threads
    assert threading.main_thread() not in threads


async def test_names_with_a_trailing_newline_are_refused(http: httpx.AsyncClient) -> None:
    await refused(await http.post("/api/v1/teams", json={"name": "ml\n"}), "name")
    await refused(await http.post("/api/v1/users", json={"name": "bob\n"}), "name")
    labelled = {**job("train"), "metadata": {"name": "train", "labels": {"app": "web\n"}}}
    response = await http.post("/api/v1/apply", json={"objects": [labelled]})
    assert "'web\\n'" in await refused(response, "objects[0].metadata.labels")
    response = await http.post(
        "/api/v1/teams/default/models/clf%0A/versions", content=mlp_model(features=6, seed=0)
    )
    assert response.status_code == 422, response.text
    assert (await http.get("/api/v1/teams/default/models")).json() == []


async def test_an_alias_with_a_trailing_newline_is_refused(http: httpx.AsyncClient) -> None:
    pushed = await http.post(
        "/api/v1/teams/default/models/clf/versions", content=mlp_model(features=6, seed=0)
    )
    assert pushed.status_code == 201, pushed.text
    response = await http.put(
        "/api/v1/teams/default/models/clf/aliases/prod%0A", json={"version": 1}
    )
    assert "'prod\\n'" in await refused(response, "path.alias")


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"command": ["python", "-c", "print(1)\x00"]}, "objects[0].spec.command[2]"),
        ({"env": {"MODE": "fast\x00slow"}}, "objects[0].spec.env.MODE"),
        ({"activeDeadline": "0s"}, "objects[0].spec.activeDeadline"),
        ({"workdir": "relative/dir"}, "objects[0].spec.workdir"),
    ],
)
async def test_bad_process_fields_are_refused_at_apply(
    http: httpx.AsyncClient, spec: dict[str, Any], path: str
) -> None:
    response = await http.post("/api/v1/apply", json={"objects": [job("train", **spec)]})
    await refused(response, path)


async def test_on_the_local_runtime_a_workdir_must_exist_on_the_server(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    missing = job("train", workdir=str(tmp_path / "missing"))
    response = await http.post("/api/v1/apply", json={"objects": [missing], "dryRun": True})
    message = await refused(response, "objects[0].spec.workdir")
    assert "not a directory on the server" in message
    present = job("train", workdir=str(tmp_path))
    response = await http.post("/api/v1/apply", json={"objects": [present], "dryRun": True})
    assert response.status_code == 200, response.text


async def test_on_kubernetes_the_workdir_is_the_containers(
    settings: Settings, clock: FakeClock
) -> None:
    on_kubernetes = settings.model_copy(update={"runtime": RuntimeSettings(kind="kubernetes")})
    tokens: list[str] = []
    app = create_app(on_kubernetes, clock=clock, on_bootstrap=tokens.append)
    body = {"objects": [job("train", workdir="/app/in/the/image")], "dryRun": True}
    async with app.router.lifespan_context(app), Api(app, tokens[0]).http(tokens[0]) as http:
        response = await http.post("/api/v1/apply", json=body)
    assert response.status_code == 200, response.text


async def test_integers_past_what_the_store_holds_are_422_not_500(
    api: Api, http: httpx.AsyncClient
) -> None:
    await api.admin.apply([job("train"), feed("flows", [{"name": "a"}])])
    pushed = await http.post(
        "/api/v1/teams/default/models/clf/versions", content=mlp_model(features=6, seed=0)
    )
    assert pushed.status_code == 201, pushed.text
    token = continue_after(BIG)
    models = "/api/v1/teams/default/models/clf"

    for name in ("fromSequence", "toSequence"):
        response = await http.get(f"/api/v1/feeds/flows/results?{name}={BIG}")
        await refused(response, f"query.{name}")
    for url in ("/api/v1/jobs", "/api/v1/events", "/api/v1/jobs/train/events"):
        response = await http.get(url, params={"continue": token})
        assert response.status_code == 422, (url, response.text)
        assert "continue token" in response.json()["error"]["message"]
    response = await http.get("/api/v1/feeds/flows/results", params={"continue": token})
    assert response.status_code == 422, response.text
    await refused(await http.delete(f"{models}/versions/{BIG}"), "path.ref")
    await refused(await http.delete(f"{models}/versions/{2**31}"), "path.ref")
    await refused(await http.put(f"{models}/aliases/prod", json={"version": HUGE}), "version")
    await refused(await http.put(f"{models}/aliases/prod", json={"version": 2**31}), "version")
    points = [{"name": "loss", "value": 1.0, "step": BIG}]
    await refused(await http.post("/api/v1/jobs/train/metrics", json=points), "points[0].step")
    response = await http.post("/api/v1/feeds/flows/ack", params={"lease": f"{BIG}.x"})
    assert response.status_code == 422, response.text
    # A digit that int() refuses is not a version number either.
    assert (await http.get(f"{models}/versions/%C2%B2")).status_code == 404


async def test_a_token_lifetime_of_zero_is_refused(api: Api, http: httpx.AsyncClient) -> None:
    for lifetime in ("0s", 0):
        response = await http.post("/api/v1/tokens", json={"expiresIn": lifetime})
        assert "above 0s" in await refused(response, "expiresIn")
    created = await api.admin.create_token(description="forever")
    assert created.expires_at is None
