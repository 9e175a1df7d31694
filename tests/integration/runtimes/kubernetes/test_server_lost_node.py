"""The server on the double: a Service replica whose node stops reporting is replaced on
another node, and takes no traffic meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sapwood.server.app import create_app
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.waiting import eventually
from tests.integration.runtimes.kubernetes.test_server import _settings
from tests.support import Api, service

pytestmark = pytest.mark.anyio

NAMESPACE = "sapwood-default"


async def _pods(double: KubeApiDouble) -> list[dict[str, Any]]:
    return double.pods(NAMESPACE)


def _node_of(pod: dict[str, Any]) -> str:
    return str(pod["spec"].get("nodeName", ""))


async def test_a_replica_on_a_lost_node_is_replaced_on_another(
    double: KubeApiDouble, tmp_path: Path
) -> None:
    double.add_node("node-b", cpu="4", memory="16Gi")
    tokens: list[str] = []
    app = create_app(_settings(double, tmp_path), on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        try:
            web = service(
                "web",
                command=["python", "-m", "http.server"],
                terminationGracePeriod="1s",
                backoff={"initial": "1s"},
            )
            await api.admin.apply([web])
            (first,) = await eventually(
                lambda: _pods(double), lambda pods: len(pods) == 1, what="a pod"
            )
            await eventually(
                lambda: api.admin.get("service", "web"),
                lambda svc: svc.status.get("readyReplicas") == 1,
                what="a ready replica",
            )
            lost = _node_of(first)
            double.lose_node(lost)

            def replaced(pods: list[dict[str, Any]]) -> bool:
                return any(
                    _node_of(p) not in ("", lost)
                    and p.get("status", {}).get("phase") == "Running"
                    and not p["metadata"].get("deletionTimestamp")
                    for p in pods
                )

            await eventually(lambda: _pods(double), replaced, what="a replica on another node")
            svc = await eventually(
                lambda: api.admin.get("service", "web"),
                lambda svc: svc.status.get("readyReplicas") == 1,
                what="the replacement ready",
            )
            old_ip = first["status"]["podIP"]
            assert [e for e in svc.status["endpoints"] if e.startswith(f"{old_ip}:")] == []
            events = await api.admin.events("service", "web")
            assert any("NodeLost" in e.message and "replacing it" in e.message for e in events)
        finally:
            await api.admin.aclose()
