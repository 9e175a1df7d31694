"""KubernetesRuntime over the in-process API double (sapwood.testing.kube_api)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitSpec, UnitState
from sapwood.server.runtimes.kubernetes.client import KubeClient, api_client
from sapwood.server.runtimes.kubernetes.manifests import RUN_LABEL, unit_selector
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from tests.support_runtimes import observed

KEY = UnitKey("Job", "research", "train")
NAMESPACE = "sapwood-research"


@pytest.fixture
def double() -> Iterator[KubeApiDouble]:
    api = KubeApiDouble()
    with api.running():
        api.add_node("node-a", cpu="4", memory="16Gi")
        yield api


@pytest.fixture
def settings(double: KubeApiDouble, tmp_path: Path) -> KubernetesRuntimeSettings:
    kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
    return KubernetesRuntimeSettings(kubeconfig=kubeconfig, stop_poll_s=0.02, watch_timeout_s=5)


@pytest.fixture
async def runtime(settings: KubernetesRuntimeSettings) -> AsyncIterator[KubernetesRuntime]:
    made = KubernetesRuntime(settings)
    yield made
    await made.close()


@pytest.fixture
def kube(settings: KubernetesRuntimeSettings) -> Iterator[KubeClient]:
    """A raw client on the double, for checks below the runtime."""
    client = KubeClient(api_client(settings), timeout_s=5)
    yield client
    client.close()


def spec(key: UnitKey = KEY, **fields: Any) -> UnitSpec:
    fields.setdefault("env", {})
    return UnitSpec(key=key, command=("python", "-m", "train"), **fields)


def current_pod(double: KubeApiDouble, key: UnitKey = KEY) -> dict[str, Any]:
    (pod,) = double.pods(NAMESPACE, f"{unit_selector(key)},{RUN_LABEL}=current")
    return pod


async def wait_for(
    runtime: KubernetesRuntime,
    key: UnitKey,
    predicate: Callable[[UnitState], bool],
    timeout_s: float = 10.0,
) -> UnitState:
    return await observed(runtime.observe, key, predicate, timeout_s=timeout_s)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
