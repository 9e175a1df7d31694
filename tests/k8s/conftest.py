"""The opt-in real-cluster suite: runs only with KUBECONFIG set and `-m k8s` selected.

Point KUBECONFIG at a throwaway cluster (kind, k3d): the suite creates namespaces
`swtest<random>-<team>`, pods and claims there, and deletes those namespaces at the end.
Never run in CI. See docs/kubernetes.md.

SAPWOOD_K8S_IMPERSONATE=1: the runtime's requests carry `Impersonate-User:
system:serviceaccount:sapwood:sapwood` (SAPWOOD_K8S_SERVER_USER to change it), so the
cluster authorises them with the install's RBAC and admission policies; apply the install
first (`sapwood install kubernetes | kubectl apply -f -`), and the kubeconfig's user needs
the `impersonate` verb (cluster-admin has it). Team namespaces are then
`sapwood-swtest<random>-<team>`, as the install's policy admits only the `sapwood-` prefix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitSpec, UnitState
from sapwood.server.runtimes.kubernetes.client import KubeClient, api_client
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_rbac import impersonate
from sapwood.testing.waiting import eventually
from tests.contract.conftest import MISSING_COMMAND, WAIT_THEN_EXIT, Harness, clean_up

KUBECONFIG = os.environ.get("KUBECONFIG", "")
TRIGGER = "/tmp/sapwood.trigger"
POD_TIMEOUT_S = 300.0  # first runs pull python:3.11-slim
IMPERSONATE = os.environ.get("SAPWOOD_K8S_IMPERSONATE", "") in ("1", "true", "yes")
SERVER_USER = os.environ.get("SAPWOOD_K8S_SERVER_USER", "system:serviceaccount:sapwood:sapwood")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    if not KUBECONFIG:
        reason = (
            "KUBECONFIG is not set: the k8s suite needs a throwaway cluster (docs/kubernetes.md)"
        )
    elif "k8s" not in (config.option.markexpr or ""):
        reason = "real-cluster tests run only when selected: pytest -m k8s tests/k8s"
    else:
        return
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def prefix() -> str:
    own = f"swtest{secrets.token_hex(3)}-"
    return f"sapwood-{own}" if IMPERSONATE else own


@pytest.fixture
def settings(prefix: str) -> KubernetesRuntimeSettings:
    return KubernetesRuntimeSettings(
        kubeconfig=Path(KUBECONFIG.split(os.pathsep)[0]).expanduser(),
        context=os.environ.get("SAPWOOD_KUBE_CONTEXT") or None,
        namespace_prefix=prefix,
        watch_timeout_s=60,
    )


@pytest.fixture
def kube(settings: KubernetesRuntimeSettings) -> Any:
    client = KubeClient(api_client(settings), timeout_s=30)
    yield client
    client.close()


def server_client(settings: KubernetesRuntimeSettings) -> KubeClient:
    """The runtime's client: the kubeconfig's user, or (SAPWOOD_K8S_IMPERSONATE=1) the
    install's ServiceAccount impersonated, so the install's RBAC decides every request."""
    api = api_client(settings)
    if IMPERSONATE:
        impersonate(api, SERVER_USER)
    return KubeClient(api, timeout_s=settings.request_timeout_s)


class ClusterHarness(Harness):
    """Units run `python` in python:3.11-slim; finish() touches the trigger by kubectl exec."""

    def __init__(self, runtime: KubernetesRuntime, workdir: Path) -> None:
        super().__init__(runtime, workdir, has_pids=False)
        self.checks_command_at_start = False
        self.kubernetes = runtime

    def spec(self, key: UnitKey, *, exit_code: int = 0, **fields: object) -> UnitSpec:
        self._codes[key] = exit_code
        command = ("python", "-c", WAIT_THEN_EXIT, TRIGGER, str(exit_code))
        return UnitSpec(key=key, command=command, env={}, grace_period_s=5.0, **fields)  # type: ignore[arg-type]

    async def finish(self, key: UnitKey) -> None:
        current = await self._running_pod(key)
        meta = current["metadata"]
        kubectl = shutil.which("kubectl")
        assert kubectl, "the k8s suite needs kubectl on PATH"
        argv = [kubectl, "-n", meta["namespace"], "exec", meta["name"], "--", "touch", TRIGGER]
        await asyncio.to_thread(subprocess.run, argv, check=True, capture_output=True)

    async def _running_pod(self, key: UnitKey) -> dict[str, Any]:
        """The key's current pod once its container runs (exec needs a running container)."""

        async def pod() -> dict[str, Any] | None:
            current, _ = await self.kubernetes.unit_pods(key)
            return current

        def running(current: dict[str, Any] | None) -> bool:
            statuses = (current or {}).get("status", {}).get("containerStatuses") or []
            return bool(statuses) and "running" in (statuses[0].get("state") or {})

        current = await eventually(
            pod, running, timeout_s=POD_TIMEOUT_S, interval_s=1, what=f"the pod of {key} to run"
        )
        assert current is not None
        return current

    async def wait_for(
        self,
        key: UnitKey,
        predicate: Callable[[UnitState], bool],
        timeout_s: float = POD_TIMEOUT_S,
    ) -> UnitState:
        return await super().wait_for(key, predicate, timeout_s)


@pytest.fixture
async def harness(
    settings: KubernetesRuntimeSettings, tmp_path: Path, kube: KubeClient, prefix: str
) -> AsyncIterator[Harness]:
    runtime = KubernetesRuntime(settings, kube=server_client(settings))
    try:
        yield ClusterHarness(runtime, tmp_path)
    finally:
        await clean_up(runtime)
        await asyncio.to_thread(delete_namespaces, kube, prefix)


def delete_namespaces(kube: KubeClient, prefix: str) -> None:
    body = kube.request("GET", "/api/v1/namespaces")
    for ns in body.get("items") or []:
        name = ns["metadata"]["name"]
        if name.startswith(prefix):
            kube.delete(f"/api/v1/namespaces/{name}", propagation="Foreground")


__all__ = ["MISSING_COMMAND"]
