"""The model registry through the SDK, on SQLite and PostgreSQL: versions, aliases, deletes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sapwood.client import ConflictError, InvalidError, NotFoundError
from sapwood.server.app import create_app
from sapwood.server.settings import RegistrySettings, Settings
from sapwood.testing.clock import FakeClock
from sapwood.testing.documents import model_service
from sapwood.testing.feeds import feed
from tests.support import Api
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio

MODEL = mlp_model(features=6, classes=2, seed=0)
OTHER = mlp_model(features=6, classes=2, seed=1)


def blobs(home: Path) -> list[Path]:
    root = home / "models" / "sha256"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_pushing_the_same_bytes_twice_gives_one_version(api: Api, tmp_path: Path) -> None:
    first = await api.admin.push_model(
        MODEL, name="clf", metrics={"accuracy": 0.97}, framework="sklearn", team="default"
    )
    assert (first.created, first.version) == (True, 1)
    assert first.sha256 == hashlib.sha256(MODEL).hexdigest()
    assert first.size == len(MODEL)
    assert first.metrics == {"accuracy": 0.97}
    assert first.framework == "sklearn"
    assert first.lineage.user == "admin"
    again = await api.admin.push_model(MODEL, name="clf", team="default")
    assert (again.created, again.version) == (False, 1)
    path = tmp_path / "other.onnx"
    path.write_bytes(OTHER)
    second = await api.admin.push_model(path, name="clf", team="default")
    assert (second.created, second.version) == (True, 2)

    [summary] = await api.admin.list_models(team="default")
    assert (summary.name, summary.latest_version, summary.versions) == ("clf", 2, 2)
    model = await api.admin.get_model("clf", team="default")
    assert [v.version for v in model.versions] == [2, 1]


async def test_the_version_records_what_the_graph_declares(api: Api) -> None:
    names = [f"col_{i}" for i in range(6)]
    data = mlp_model(features=6, classes=3, feature_names=names)
    await api.admin.push_model(data, name="clf", source="s3://data/flows-2026-01", team="default")
    version = await api.admin.resolve_model("clf@1", team="default")
    assert [(t.name, t.dtype, t.shape) for t in version.inputs] == [
        ("features", "float32", ["N", 6])
    ]
    assert [(t.name, t.dtype, t.shape) for t in version.outputs] == [
        ("probabilities", "float32", ["N", 3])
    ]
    assert version.opset == 17
    assert version.features == names
    assert version.lineage.source == "s3://data/flows-2026-01"
    assert version.lineage.kind is None  # pushed by a person, not a workload


async def test_aliases_move_and_resolve(api: Api) -> None:
    v1 = await api.admin.push_model(MODEL, name="clf", alias="production", team="default")
    assert v1.aliases == ["production"]
    v2 = await api.admin.push_model(OTHER, name="clf", alias="staging", team="default")
    assert (await api.admin.resolve_model("clf@production", team="default")).version == 1
    assert (await api.admin.resolve_model("clf@staging", team="default")).version == 2
    assert (await api.admin.resolve_model("clf", team="default")).version == 2  # latest
    moved = await api.admin.set_alias("clf", "production", v2.version, team="default")
    assert moved.aliases == ["production", "staging"]
    assert (await api.admin.resolve_model("clf@production", team="default")).version == 2
    # Pushing bytes that exist moves the alias to their version.
    again = await api.admin.push_model(MODEL, name="clf", alias="production", team="default")
    assert (again.created, again.version, again.aliases) == (False, 1, ["production"])
    model = await api.admin.get_model("clf", team="default")
    assert model.aliases == {"production": 1, "staging": 2}
    await api.admin.delete_alias("clf", "staging", team="default")
    with pytest.raises(NotFoundError, match="clf@staging not found"):
        await api.admin.resolve_model("clf@staging", team="default")


async def test_a_bad_alias_or_a_missing_version_is_refused(api: Api) -> None:
    await api.admin.push_model(MODEL, name="clf", team="default")
    with pytest.raises(InvalidError, match="all digits"):
        await api.admin.set_alias("clf", "3", 1, team="default")
    with pytest.raises(InvalidError, match="invalid"):
        await api.admin.push_model(OTHER, name="clf", alias="Prod!", team="default")
    with pytest.raises(NotFoundError, match="no version 9"):
        await api.admin.set_alias("clf", "production", 9, team="default")
    with pytest.raises(InvalidError, match=r"path\.name: 'Bad_Name' is not a valid name"):
        await api.admin.push_model(MODEL, name="Bad_Name", team="default")
    # The refused pushes left nothing behind.
    assert [v.version for v in (await api.admin.get_model("clf", team="default")).versions] == [1]


async def test_a_version_a_service_serves_cannot_be_deleted(api: Api, settings: Settings) -> None:
    await api.admin.push_model(MODEL, name="clf", alias="production", team="default")
    await api.admin.push_model(OTHER, name="clf", team="default")
    await api.admin.apply([model_service("web", "clf@production")])  # a Service with model is valid
    await api.admin.apply(
        [model_service("shadow", "other@1", canary={"model": "clf@2", "weight": 5})]
    )

    with pytest.raises(ConflictError, match="used by service\\(s\\) web"):
        await api.admin.delete_model_version("clf", 1, team="default")
    with pytest.raises(ConflictError, match="used by service\\(s\\) shadow"):
        await api.admin.delete_model_version("clf", 2, team="default")
    with pytest.raises(ConflictError, match="clf@production is used by service\\(s\\) web"):
        await api.admin.delete_alias("clf", "production", team="default")

    await api.admin.delete("service", "shadow", team="default")
    await api.admin.delete_model_version("clf", 2, team="default")
    # The alias moves on to a new version; the old one is then free to go.
    v3 = await api.admin.push_model(mlp_model(features=6, seed=3), name="clf", team="default")
    assert v3.version == 3  # numbers are never reused
    await api.admin.set_alias("clf", "production", 3, team="default")
    await api.admin.delete_model_version("clf", 1, team="default")
    model = await api.admin.get_model("clf", team="default")
    assert [v.version for v in model.versions] == [3]
    assert len(blobs(settings.home)) == 1


async def test_a_version_or_alias_a_feed_scores_with_cannot_be_deleted(api: Api) -> None:
    await api.admin.push_model(MODEL, name="clf", alias="production", team="default")
    await api.admin.push_model(OTHER, name="clf", team="default")
    await api.admin.apply([feed("traffic", team="default", model="clf@production")])
    await api.admin.apply([feed("pinned", team="default", model="clf@2")])

    with pytest.raises(ConflictError) as caught:
        await api.admin.delete_alias("clf", "production", team="default")
    assert caught.value.status == 409
    assert caught.value.message == "alias clf@production is used by feed(s) traffic"
    with pytest.raises(ConflictError, match="version 2 is used by feed\\(s\\) pinned"):
        await api.admin.delete_model_version("clf", 2, team="default")
    await api.admin.apply([model_service("web", "clf@2")])
    with pytest.raises(ConflictError, match="used by service\\(s\\) web and feed\\(s\\) pinned"):
        await api.admin.delete_model_version("clf", 2, team="default")

    await api.admin.delete("feed", "traffic", team="default")
    await api.admin.delete_alias("clf", "production", team="default")  # no one uses it now


async def test_a_version_an_alias_names_is_kept_until_the_alias_moves(api: Api) -> None:
    await api.admin.push_model(MODEL, name="clf", alias="staging", team="default")
    with pytest.raises(ConflictError, match="named by alias\\(es\\) staging"):
        await api.admin.delete_model_version("clf", 1, team="default")


async def test_a_file_that_does_not_load_is_refused_with_the_loaders_reason(
    api: Api, settings: Settings
) -> None:
    with pytest.raises(InvalidError, match=r"model/clf was refused: .*onnx") as refused:
        await api.admin.push_model(b"\x08\x07garbage, not a model", name="clf", team="default")
    assert refused.value.status == 422
    assert refused.value.details[0].path == "body"
    with pytest.raises(InvalidError, match="empty"):
        await api.admin.push_model(b"", name="clf", team="default")
    assert await api.admin.list_models(team="default") == []
    assert blobs(settings.home) == []
    uploads = settings.home / "models" / ".uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


async def test_pull_returns_the_same_bytes(api: Api, tmp_path: Path) -> None:
    await api.admin.push_model(MODEL, name="clf", alias="production", team="default")
    dest = tmp_path / "pulled.onnx"
    version = await api.admin.download_model("clf@production", dest, team="default")
    assert dest.read_bytes() == MODEL
    assert version.version == 1
    with pytest.raises(NotFoundError, match="clf@7 not found"):
        await api.admin.download_model("clf@7", tmp_path / "x.onnx", team="default")
    assert not (tmp_path / "x.onnx").exists()


async def test_models_with_the_same_bytes_share_one_blob(api: Api, settings: Settings) -> None:
    await api.admin.create_team("ml")
    await api.admin.push_model(MODEL, name="a", team="default")
    await api.admin.push_model(MODEL, name="b", team="default")
    await api.admin.push_model(MODEL, name="a", team="ml")
    assert len(blobs(settings.home)) == 1
    await api.admin.delete_model_version("a", 1, team="default")
    await api.admin.delete_model_version("b", 1, team="default")
    assert len(blobs(settings.home)) == 1  # team ml still has it
    await api.admin.delete_model_version("a", 1, team="ml")
    assert blobs(settings.home) == []


async def test_metrics_must_be_numbers(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        response = await http.post(
            "/api/v1/teams/default/models/clf/versions",
            content=MODEL,
            params=[("metric", "accuracy=high")],
        )
    assert response.status_code == 422
    assert "accuracy=high" in response.json()["error"]["message"]


@asynccontextmanager
async def app_with(settings: Settings) -> AsyncIterator[Api]:
    tokens: list[str] = []
    app = create_app(settings, clock=FakeClock(), on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        yield api
        await api.admin.aclose()


async def test_an_fsspec_store_keeps_the_artifacts(settings: Settings, tmp_path: Path) -> None:
    import fsspec

    url = f"memory://registry-{tmp_path.name}/models"
    registry = RegistrySettings(store_url=url)
    async with app_with(settings.model_copy(update={"registry": registry})) as api:
        pushed = await api.admin.push_model(MODEL, name="clf", team="default")
        fs = fsspec.filesystem("memory")
        key = f"{url.removeprefix('memory://')}/sha256/{pushed.sha256[:2]}/{pushed.sha256}"
        assert fs.cat_file(key) == MODEL
        dest = tmp_path / "back.onnx"
        await api.admin.download_model("clf@1", dest, team="default")
        assert dest.read_bytes() == MODEL
        await api.admin.delete_model_version("clf", 1, team="default")
        assert not fs.exists(key)
    assert blobs(settings.home) == []


async def test_model_uploads_have_their_own_body_limit(settings: Settings) -> None:
    small = RegistrySettings(max_upload_bytes=4096)
    data = mlp_model(features=67)
    assert len(data) > 4096
    async with app_with(settings.model_copy(update={"registry": small})) as api:
        with pytest.raises(InvalidError, match="larger than 4096 bytes") as refused:
            await api.admin.push_model(data, name="clf", team="default")
        assert refused.value.status == 413
        assert refused.value.hint is not None
        assert "SAPWOOD_MAX_MODEL_BYTES" in refused.value.hint
        async with api.http(api.admin_token) as http:
            # Other routes keep the API's own limit.
            response = await http.post("/api/v1/apply", content=data)
        assert response.status_code == 422


async def test_other_routes_keep_the_smaller_api_limit(api: Api, settings: Settings) -> None:
    assert settings.registry.max_upload_bytes > settings.api.max_body_bytes
    big = b"x" * (settings.api.max_body_bytes + 1)
    async with api.http(api.admin_token) as http:
        assert (await http.post("/api/v1/apply", content=big)).status_code == 413
        pushed = await http.post("/api/v1/teams/default/models/clf/versions", content=big)
    assert pushed.status_code == 422  # read whole, then refused as not a model
