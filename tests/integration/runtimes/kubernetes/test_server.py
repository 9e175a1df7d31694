"""The server with SAPWOOD_RUNTIME=kubernetes: its controller runs jobs as pods (on the double)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.server.app import create_app
from sapwood.server.settings import (
    ControllerSettings,
    GatewaySettings,
    KubernetesRuntimeSettings,
    RuntimeSettings,
    Settings,
    StoreSettings,
)
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.waiting import eventually
from tests.support import Api, job, service

pytestmark = pytest.mark.anyio


def _settings(double: KubeApiDouble, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sapwood.db'}"),
        controller=ControllerSettings(resync_s=0.5),
        gateway=GatewaySettings(enabled=False),
        runtime=RuntimeSettings(
            kind="kubernetes",
            kubernetes=KubernetesRuntimeSettings(
                kubeconfig=double.write_kubeconfig(tmp_path / "kubeconfig"),
                server_image="registry.example/sapwood:9",
            ),
        ),
    )


async def test_a_job_runs_as_a_pod_and_succeeds(double: KubeApiDouble, tmp_path: Path) -> None:
    settings = _settings(double, tmp_path)
    tokens: list[str] = []
    app = create_app(settings, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        try:
            await api.admin.apply([job("train", command=["python", "-c", "print('hi')"])])

            async def pods() -> list[dict[str, object]]:
                return double.pods("sapwood-default")

            (pod,) = await eventually(pods, lambda found: len(found) == 1, what="a pod")
            container = pod["spec"]["containers"][0]  # type: ignore[index]
            env = {e["name"]: e for e in container["env"]}
            assert env["SAPWOOD_URL"]["value"] == "http://sapwood.sapwood.svc.cluster.local"
            assert "valueFrom" in env["SAPWOOD_TOKEN"]  # by reference, never by value
            double.finish_pod("sapwood-default", pod["metadata"]["name"], 0)  # type: ignore[index]
            done = await eventually(
                lambda: api.admin.get("job", "train"), lambda o: o.phase == "Succeeded"
            )
            assert done.phase == "Succeeded"
        finally:
            await api.admin.aclose()


async def test_a_model_service_runs_the_server_image(double: KubeApiDouble, tmp_path: Path) -> None:
    tokens: list[str] = []
    app = create_app(_settings(double, tmp_path), on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        try:
            model_service = service("clf", model="clf@production")
            del model_service["spec"]["command"]
            await api.admin.apply([model_service])

            async def pods() -> list[dict[str, object]]:
                return double.pods("sapwood-default")

            (pod,) = await eventually(pods, lambda found: len(found) == 1, what="a pod")
            container = pod["spec"]["containers"][0]  # type: ignore[index]
            assert container["image"] == "registry.example/sapwood:9"
            assert container["command"] == [
                "python",
                "-m",
                "sapwood.serving",
                "--model",
                "clf@production",
            ]
            await api.admin.delete("service", "clf")
        finally:
            await api.admin.aclose()
