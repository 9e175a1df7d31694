"""Two server replicas on the Kubernetes runtime (the double), as the install runs them:
the one that does not lead still answers reads of the runtime (`sapwood logs`, the
overview's capacity) from the cluster, and never writes to it."""

from __future__ import annotations

from contextlib import AsyncExitStack, aclosing
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
from tests.integration.runtimes.kubernetes.conftest import SERVER
from tests.support import Api, job

pytestmark = pytest.mark.anyio

NAMESPACE = "sapwood-default"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _replica(double: KubeApiDouble, tmp_path: Path, name: str, database_url: str) -> Settings:
    kubeconfig = double.write_kubeconfig(tmp_path / f"{name}.kubeconfig", service_account=SERVER)
    return Settings(
        home=tmp_path / name,
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(resync_s=0.5, leader_election=True),
        gateway=GatewaySettings(enabled=False),
        runtime=RuntimeSettings(
            kind="kubernetes",
            kubernetes=KubernetesRuntimeSettings(
                kubeconfig=kubeconfig, server_image="registry.example/sapwood:9"
            ),
        ),
    )


async def _read_logs(api: Api, name: str) -> bytes:
    async with aclosing(api.admin.logs("job", name)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_the_follower_serves_logs_from_the_cluster(
    double: KubeApiDouble, tmp_path: Path, database_url: str
) -> None:
    tokens: list[str] = []
    leader = create_app(_replica(double, tmp_path, "one", database_url), on_bootstrap=tokens.append)
    follower = create_app(_replica(double, tmp_path, "two", database_url))
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(leader.router.lifespan_context(leader))
        await stack.enter_async_context(follower.router.lifespan_context(follower))
        assert leader.state.sapwood.controller is not None
        assert follower.state.sapwood.controller is None
        one, two = Api(leader, tokens[0]), Api(follower, tokens[0])
        stack.push_async_callback(one.admin.aclose)
        stack.push_async_callback(two.admin.aclose)

        await two.admin.apply([job("train", command=["python", "-m", "train"])])
        (pod,) = await eventually(
            lambda: _pods(double), lambda found: len(found) == 1, what="the job's pod"
        )
        double.write_log(NAMESPACE, pod["metadata"]["name"], b"epoch 1: loss 0.42\n")
        writes_before = _writes(double)

        assert await _read_logs(two, "train") == b"epoch 1: loss 0.42\n"
        assert await _read_logs(one, "train") == b"epoch 1: loss 0.42\n"

        reads = follower.state.sapwood.reads  # what the dashboard's overview shows
        assert reads is not None
        assert (await reads.capacity()).cpu_millis > 0
        assert _writes(double) == writes_before  # the reads wrote nothing to the cluster


async def _pods(double: KubeApiDouble) -> list[dict[str, object]]:
    return double.pods(NAMESPACE)


def _writes(double: KubeApiDouble) -> list[tuple[str, str]]:
    return [(method, path) for method, path in double.requests if method in WRITES]
