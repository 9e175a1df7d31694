"""KubernetesRuntime over the in-process API double (sapwood.testing.kube_api).

The double holds the rendered install (`sapwood install kubernetes`: its ServiceAccount,
ClusterRoles, bindings, admission policies, the default team namespace) and the `runtime`
authenticates as the install's ServiceAccount, so every request it makes is authorised by
the install's RBAC as a real cluster would; `kube` is a cluster admin, for test setup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sapwood.manifests.install import InstallOptions, render_install
from sapwood.manifests.install_secrets import seeded_bytes
from sapwood.server.runtimes.base import UnitKey, UnitSpec, UnitState
from sapwood.server.runtimes.kubernetes.client import KubeClient, api_client
from sapwood.server.runtimes.kubernetes.manifests import RUN_LABEL, unit_selector
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.kube_authz import load_manifests
from sapwood.testing.kube_rbac import UserInfo, service_account_user
from tests.support_runtimes import observed

KEY = UnitKey("Job", "research", "train")
NAMESPACE = "sapwood-research"
INSTALL = InstallOptions()
# Who the runtime is: the install's ServiceAccount.
SERVER = (INSTALL.namespace, INSTALL.render_options().server_service_account)
SERVER_USER: UserInfo = service_account_user(*SERVER)


def load_install(
    double: KubeApiDouble, options: InstallOptions = INSTALL, *, priority_classes: bool = False
) -> None:
    """Stores what `sapwood install kubernetes` renders (as `kubectl apply` by an admin).

    Its PriorityClasses only with `priority_classes`: tests choose the cluster's classes.
    """
    manifests = render_install(options, randbytes=seeded_bytes(0))
    if not priority_classes:
        manifests = [m for m in manifests if m["kind"] != "PriorityClass"]
    load_manifests(double.store, manifests)


def grant_server(double: KubeApiDouble, name: str, rules: list[dict[str, Any]]) -> None:
    """An admin's extra ClusterRole `name` with `rules`, bound to the server cluster-wide."""
    rbac = "rbac.authorization.k8s.io"
    double.store.create("clusterroles", "", {"metadata": {"name": name}, "rules": rules})
    subject = {"kind": "ServiceAccount", "name": SERVER[1], "namespace": SERVER[0]}
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name},
        "subjects": [subject],
    }
    double.store.create("clusterrolebindings", "", binding)


@pytest.fixture
def double() -> Iterator[KubeApiDouble]:
    api = KubeApiDouble()
    with api.running():
        api.add_node("node-a", cpu="4", memory="16Gi")
        load_install(api)
        yield api


@pytest.fixture
def settings(double: KubeApiDouble, tmp_path: Path) -> KubernetesRuntimeSettings:
    """The runtime's settings: a kubeconfig holding the install's ServiceAccount token."""
    kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig", service_account=SERVER)
    return KubernetesRuntimeSettings(kubeconfig=kubeconfig, stop_poll_s=0.02, watch_timeout_s=5)


@pytest.fixture
def admin_settings(double: KubeApiDouble, tmp_path: Path) -> KubernetesRuntimeSettings:
    kubeconfig = double.write_kubeconfig(tmp_path / "admin-kubeconfig")
    return KubernetesRuntimeSettings(kubeconfig=kubeconfig, stop_poll_s=0.02, watch_timeout_s=5)


@pytest.fixture
async def runtime(settings: KubernetesRuntimeSettings) -> AsyncIterator[KubernetesRuntime]:
    made = KubernetesRuntime(settings)
    yield made
    await made.close()


@pytest.fixture
def kube(admin_settings: KubernetesRuntimeSettings) -> Iterator[KubeClient]:
    """A raw client on the double as the cluster admin, for setup and checks below the runtime."""
    client = KubeClient(api_client(admin_settings), timeout_s=5)
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
