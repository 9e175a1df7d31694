"""Workloads and the registry: a Job's token pushes (and is recorded as lineage), others read.

``sapwood.run.register_model`` is exercised against a live server, as a training script
running inside a Job would call it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

import sapwood.run
from sapwood.client import AsyncClient, Client, ForbiddenError
from sapwood.server.controller import store_io
from sapwood.server.secrets import WORKLOADS_USER, workload_token
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.testing.documents import model_service
from sapwood.testing.servers import LiveServer
from tests.support import Api, job
from tests.support_onnx import mlp_model

MODEL = mlp_model(features=4, seed=7)


async def _store_token(database_url: str, scope: str, uid: str) -> str:
    token = workload_token(b"k" * 32, uid)
    engine = create_engine(database_url)
    try:
        await store_io.ensure_workload_tokens(
            session_factory(engine),
            [store_io.WorkloadToken(id=token.id, secret_hash=token.secret_hash, scope=scope)],
            user=WORKLOADS_USER,
            now=datetime.now(UTC),
        )
    finally:
        await engine.dispose()
    return token.token


async def workload_client(api: Api, kind: str, name: str, team: str = "default") -> AsyncClient:
    """The SDK as the object's own workload, with the token the controller would give it."""
    obj = await api.admin.get(kind, name, team=team)
    settings = api.transport.app.state.sapwood.settings  # type: ignore[attr-defined]
    scope = f"{obj.kind}/{obj.metadata.team}/{obj.metadata.name}"
    secret = await _store_token(settings.database_url, scope, obj.metadata.uid)
    return api.client(secret, team=team)


@pytest.mark.anyio
async def test_a_jobs_token_pushes_and_the_job_is_the_lineage(api: Api) -> None:
    await api.admin.apply([job("train")])
    uid = (await api.admin.get("job", "train")).metadata.uid
    async with await workload_client(api, "job", "train") as workload:
        pushed = await workload.push_model(
            MODEL, name="clf", metrics={"f1": 0.91}, alias="staging", source="flows-2026-01"
        )
        # It pushes into the registry; reading the team's registry is not its business.
        with pytest.raises(ForbiddenError, match="Job/default/train"):
            await workload.list_models()
    assert pushed.created
    assert [m.name for m in await api.admin.list_models(team="default")] == ["clf"]
    lineage = (await api.admin.resolve_model("clf@staging", team="default")).lineage
    assert (lineage.kind, lineage.team, lineage.name, lineage.uid) == (
        "Job",
        "default",
        "train",
        uid,
    )
    assert lineage.source == "flows-2026-01"
    assert lineage.user == WORKLOADS_USER


@pytest.mark.anyio
async def test_a_services_token_reads_models_but_cannot_push_or_move_aliases(api: Api) -> None:
    await api.admin.push_model(MODEL, name="clf", alias="production", team="default")
    await api.admin.apply([model_service("web", "clf@production")])
    async with await workload_client(api, "service", "web") as workload:
        version = await workload.resolve_model("clf@production")
        assert version.version == 1
        with pytest.raises(ForbiddenError, match="only a Job's token pushes"):
            await workload.push_model(mlp_model(features=4, seed=8), name="clf")
        with pytest.raises(ForbiddenError):
            await workload.set_alias("clf", "production", 1)
        with pytest.raises(ForbiddenError):
            await workload.delete_model_version("clf", 1)


@pytest.fixture
def fresh_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sapwood.run, "_current", None)


@pytest.mark.usefixtures("fresh_run")
def test_register_model_from_a_job(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Client(live_server.url, token=live_server.admin_token) as admin:
        admin.apply([job("train")])
        uid = admin.get("job", "train").metadata.uid
        url = f"sqlite+aiosqlite:///{live_server.home / 'sapwood.db'}"
        token = asyncio.run(_store_token(url, "Job/default/train", uid))
        env = {
            "SAPWOOD_URL": live_server.url,
            "SAPWOOD_TOKEN": token,
            "SAPWOOD_KIND": "Job",
            "SAPWOOD_TEAM": "default",
            "SAPWOOD_NAME": "train",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "model.onnx"
        path.write_bytes(MODEL)

        first = sapwood.run.register_model(
            path, name="antinex", metrics={"accuracy": 0.97}, alias="production", framework="torch"
        )
        again = sapwood.run.register_model(path, name="antinex")

        version = admin.resolve_model("antinex@production", team="default")
    assert (first.created, first.version) == (True, 1)
    assert (again.created, again.version) == (False, 1)
    assert version.metrics == {"accuracy": 0.97}
    assert version.framework == "torch"
    assert (version.lineage.kind, version.lineage.name, version.lineage.uid) == (
        "Job",
        "train",
        uid,
    )


def test_register_model_outside_a_workload_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(sapwood.run.NotInWorkloadError, match="SAPWOOD_URL, SAPWOOD_TOKEN"):
        sapwood.run.register_model(tmp_path / "m.onnx", name="x")
