"""Through the server: a start the cluster refuses for now shows why, and goes on later."""

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
from tests.support import Api, service

pytestmark = pytest.mark.anyio

NAMESPACE = "sapwood-default"


def _settings(double: KubeApiDouble, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sapwood.db'}"),
        controller=ControllerSettings(resync_s=0.5),
        gateway=GatewaySettings(enabled=False),
        runtime=RuntimeSettings(
            kind="kubernetes",
            kubernetes=KubernetesRuntimeSettings(
                kubeconfig=double.write_kubeconfig(tmp_path / "kubeconfig")
            ),
        ),
    )


async def test_a_full_quota_leaves_the_service_waiting_with_the_quota_message(
    double: KubeApiDouble, tmp_path: Path
) -> None:
    if ("namespaces", "", NAMESPACE) not in double.store.objects:
        double.add_namespace(NAMESPACE)
    double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "1"})
    tokens: list[str] = []
    app = create_app(_settings(double, tmp_path), on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        try:
            await api.admin.apply([service("web", resources={"cpu": "2", "memory": "1Gi"})])
            delayed = await eventually(
                lambda: api.admin.get("service", "web"),
                lambda o: o.status.get("reason") == "StartDelayed",
                what="a delayed start",
            )
            message = delayed.status["message"]
            assert message.startswith("replica 0: ResourceQuota: kubernetes refused to ")
            assert "exceeded quota: compute, requested: requests.cpu=2" in message
            events = await api.admin.events("service", "web")
            assert any(
                e.reason == "StartDelayed" and "exceeded quota: compute" in e.message
                for e in events
            )
            assert double.pods(NAMESPACE) == []

            double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "4"})

            async def pods() -> list[dict[str, object]]:
                return double.pods(NAMESPACE)

            await eventually(pods, lambda found: len(found) == 1, what="a pod")
            running = await eventually(
                lambda: api.admin.get("service", "web"),
                lambda o: o.status.get("reason") != "StartDelayed",
                what="the delay cleared",
            )
            assert "exceeded quota" not in str(running.status.get("message"))
            await api.admin.delete("service", "web")
        finally:
            await api.admin.aclose()
