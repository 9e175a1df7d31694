"""A workload's own token reaches its object and what that object needs, not its team.

Tokens are made as the controller makes them (``workload_token`` + ``ensure_workload_token``)
and used over the API, as code inside the workload would use them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.server.controller import store_io
from sapwood.server.secrets import WORKLOADS_USER, workload_token
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.support import Api, job, service
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio

KEY = b"k" * 32


async def token_of(api: Api, kind: str, name: str, team: str = "default") -> str:
    """The token the controller would give the object's workload, stored as it stores it."""
    obj = await api.admin.get(kind, name, team=team)
    token = workload_token(KEY, obj.metadata.uid)
    await store_io.ensure_workload_tokens(
        api.transport.app.state.sapwood.sessions,  # type: ignore[attr-defined]
        [
            store_io.WorkloadToken(
                token.id, token.secret_hash, f"{obj.kind}/{obj.metadata.team}/{obj.metadata.name}"
            )
        ],
        user=WORKLOADS_USER,
        now=datetime.now(UTC),
    )
    return token.token


def message(response: httpx.Response) -> str:
    return str(response.json()["error"]["message"])


async def test_a_jobs_token_reads_its_own_job_and_nothing_else_of_its_team(api: Api) -> None:
    await api.admin.apply([job("train"), job("other"), service("web")])
    async with api.http(await token_of(api, "job", "train")) as http:
        own = await http.get("/api/v1/jobs/train")
        assert own.status_code == 200
        assert own.json()["metadata"]["name"] == "train"
        assert (await http.get("/api/v1/jobs/train/events")).status_code == 200
        written = await http.post(
            "/api/v1/jobs/train/metrics", json=[{"name": "loss", "value": 0.5, "step": 1}]
        )
        assert written.status_code == 200, written.text

        listed = await http.get("/api/v1/jobs")
        assert listed.status_code == 403
        assert "Job/default/train" in message(listed)
        for path in (
            "/api/v1/jobs/other",
            "/api/v1/jobs/other/logs",
            "/api/v1/jobs/other/events",
            "/api/v1/jobs/other/metrics",
            "/api/v1/services/web",
        ):
            hidden = await http.get(path)
            assert hidden.status_code == 404, path
            assert "not found" in message(hidden)
        for method, path in (
            ("GET", "/api/v1/events"),
            ("GET", "/api/v1/services"),
            ("GET", "/api/v1/teams/default/models"),
            ("GET", "/api/v1/tokens"),
            ("POST", "/api/v1/tokens"),
            ("DELETE", "/api/v1/jobs/train"),
        ):
            refused = await http.request(method, path, json={})
            assert refused.status_code == 403, (method, path, refused.text)
        applied = await http.post("/api/v1/apply", json={"objects": [job("sneaky")]})
        assert applied.status_code == 403
    assert not any(o.metadata.name == "sneaky" for o in await api.admin.list("job"))


async def test_a_jobs_token_pushes_models_but_does_not_read_the_registry(api: Api) -> None:
    await api.admin.apply([job("train")])
    await api.admin.push_model(mlp_model(features=4, seed=1), name="secret", team="default")
    async with api.client(await token_of(api, "job", "train"), team="default") as workload:
        pushed = await workload.push_model(mlp_model(features=4, seed=2), name="clf")
        assert pushed.created
    async with api.http(await token_of(api, "job", "train")) as http:
        hidden = await http.get("/api/v1/teams/default/models/secret/versions/1")
        assert hidden.status_code == 404


async def test_a_feed_workers_token_works_its_own_feed_only(api: Api) -> None:
    await api.admin.apply([feed("ids", team="default"), feed("other", team="default")])
    for name in ("ids", "other"):
        await api.admin.push_records(name, antinex_rows(3))
    async with api.client(await token_of(api, "feed", "ids"), team="default") as worker:
        batch = await worker.lease_batch("ids", consumer="w")
        assert batch is not None
        results = to_ipc(threshold_scores(from_ipc(batch.records)))
        assert (await worker.ack_batch("ids", batch.lease_id, results, model_version="1")).stored

    theirs = await api.admin.lease_batch("other", consumer="admin")
    assert theirs is not None
    async with api.http(await token_of(api, "feed", "ids")) as http:
        for path in ("/api/v1/feeds/other/lease", "/api/v1/feeds/other/ack"):
            refused = await http.post(path, params={"lease": theirs.lease_id})
            assert refused.status_code == 404, path
            assert "feed/other not found" in message(refused)
        results_page = await http.get("/api/v1/feeds/other/results")
        assert results_page.status_code == 404
        ingest = await http.post("/api/v1/feeds/ids/records", json=antinex_rows(1))
        assert ingest.status_code == 403


async def test_a_feed_reads_the_model_it_names_and_no_other(api: Api) -> None:
    model = mlp_model(features=4, seed=3)
    await api.admin.push_model(model, name="ids", alias="production", team="default")
    await api.admin.push_model(model, name="private", team="default")
    await api.admin.apply([feed("ids", team="default")])  # names ids@production
    async with api.http(await token_of(api, "feed", "ids")) as http:
        named = await http.get("/api/v1/teams/default/models/ids/versions/production")
        assert named.status_code == 200
        artifact = await http.get("/api/v1/teams/default/models/ids/versions/1/artifact")
        assert artifact.status_code == 200
        assert artifact.content == model
        other = await http.get("/api/v1/teams/default/models/private/versions/1")
        assert other.status_code == 404


async def test_a_model_service_reads_its_model_and_its_canarys(api: Api) -> None:
    for name in ("clf", "next", "private"):
        await api.admin.push_model(mlp_model(features=4, seed=4), name=name, team="default")
    await api.admin.apply(
        [service("web", model="clf@1", command=None, canary={"model": "next@1", "weight": 10})]
    )
    async with api.http(await token_of(api, "service", "web")) as http:
        for name, status in (("clf", 200), ("next", 200), ("private", 404)):
            got = await http.get(f"/api/v1/teams/default/models/{name}/versions/1")
            assert got.status_code == status, name


async def test_a_token_of_another_team_sees_nothing_of_this_one(api: Api) -> None:
    await api.admin.create_team("ml")
    await api.admin.apply([job("train", team="ml"), job("train", team="default")])
    async with api.http(await token_of(api, "job", "train", team="ml")) as http:
        assert (await http.get("/api/v1/jobs/train", params={"team": "ml"})).status_code == 200
        other = await http.get("/api/v1/jobs/train", params={"team": "default"})
        assert other.status_code == 404


async def test_a_workload_token_cannot_sign_in_to_the_dashboard(api: Api) -> None:
    await api.admin.apply([job("train")])
    token = await token_of(api, "job", "train")
    async with api.http() as http:
        page = await http.post("/ui/login", data={"token": token, "next": "/"})
    assert page.status_code == 401
    assert "works only for its own API calls" in page.text
    assert "sapwood_session" not in page.headers.get("set-cookie", "")
