"""Capacity counts only nodes units can use, subtracts every other pod, reads in pages and
not every round (issue 17, 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from sapwood.server.runtimes.kubernetes import capacity as capacity_module
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble

pytestmark = pytest.mark.anyio

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
DEDICATED = {"key": "dedicated", "value": "search-team", "effect": "NoExecute"}


@pytest.fixture
def pods_readable(double: KubeApiDouble) -> None:
    """What an admin grants on top of the install so that capacity can subtract DaemonSet
    and other tenants' pods: list pods at cluster scope (docs/kubernetes.md)."""
    rbac = "rbac.authorization.k8s.io"
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
    double.store.create("clusterroles", "", {"metadata": {"name": "cap"}, "rules": [rule]})
    subject = {"kind": "ServiceAccount", "name": "sapwood", "namespace": "sapwood"}
    role = {"apiGroup": rbac, "kind": "ClusterRole", "name": "cap"}
    binding = {"metadata": {"name": "cap"}, "roleRef": role, "subjects": [subject]}
    double.store.create("clusterrolebindings", "", binding)


@pytest.fixture
async def fresh(settings: KubernetesRuntimeSettings) -> AsyncIterator[KubernetesRuntime]:
    """A runtime that reads the cluster at every call (no cache)."""
    made = KubernetesRuntime(replace(settings, capacity_ttl_s=0))
    yield made
    await made.close()


async def test_only_nodes_units_can_use_count(
    fresh: KubernetesRuntime, double: KubeApiDouble
) -> None:
    # node-a (conftest): 4 CPUs, 16Gi, ready, untainted.
    double.add_node("control", cpu="8", memory="32Gi", taints=[CONTROL_PLANE])
    double.add_node("broken", cpu="16", memory="64Gi", ready=False)
    double.add_node("search", cpu="32", memory="128Gi", taints=[DEDICATED])
    double.add_node("cordoned", cpu="64", memory="256Gi", unschedulable=True)
    double.add_node(
        "gpu-a", cpu="16", memory="64Gi", gpus=2, gpu_product="NVIDIA-H100", taints=[GPU_TAINT]
    )
    double.add_node("no-gpus-tainted", cpu="2", memory="8Gi", taints=[GPU_TAINT])
    capacity = await fresh.capacity()
    assert capacity.cpu_millis == 4000 + 16000  # node-a and the GPU node (GPU units tolerate it)
    assert capacity.memory_bytes == (16 + 64) * 2**30
    assert capacity.gpus == 2
    assert capacity.gpu_models == ("NVIDIA-H100",) * 2


@pytest.mark.usefixtures("pods_readable")
async def test_daemon_set_and_other_pods_are_subtracted(
    fresh: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.add_node("node-b", cpu="8", memory="32Gi")
    double.add_daemon_pod("kube-proxy", "node-a", cpu="100m", memory="128Mi")
    double.add_daemon_pod("kube-proxy", "node-b", cpu="100m", memory="128Mi")
    double.add_daemon_pod("gpu-operator", "node-b", cpu="1", memory="1Gi")
    capacity = await fresh.capacity()
    assert capacity.cpu_millis == 4000 + 8000 - 100 - 100 - 1000
    assert capacity.memory_bytes == (16 + 32) * 2**30 - 2 * 128 * 2**20 - 2**30


@pytest.mark.usefixtures("pods_readable")
async def test_a_cluster_larger_than_a_page_is_counted_fully(
    fresh: KubernetesRuntime, double: KubeApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity_module, "PAGE_SIZE", 2)
    for i in range(6):
        double.add_node(f"node-{i}", cpu="1", memory="1Gi")
        double.add_daemon_pod("kube-proxy", f"node-{i}", cpu="100m")
    double.requests.clear()
    capacity = await fresh.capacity()
    assert capacity.cpu_millis == 4000 + 6 * 900
    node_lists = [path for method, path in double.requests if path == "/api/v1/nodes"]
    assert len(node_lists) == 4  # 7 nodes in pages of 2
    pod_lists = [path for method, path in double.requests if path == "/api/v1/pods"]
    assert len(pod_lists) == 3  # 6 DaemonSet pods in pages of 2


async def test_without_cluster_wide_pod_reads_capacity_says_so(
    fresh: KubernetesRuntime, double: KubeApiDouble, caplog: pytest.LogCaptureFixture
) -> None:
    double.fail_next(403, "pods is forbidden", path_contains="/api/v1/pods")
    double.add_daemon_pod("kube-proxy", "node-a", cpu="100m")
    assert (await fresh.capacity()).cpu_millis == 4000  # not subtracted: not readable
    assert "cannot list pods cluster-wide (403)" in caplog.text


async def test_capacity_is_not_read_every_round(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    first = await runtime.capacity()
    double.requests.clear()
    assert await runtime.capacity() == first
    assert ("GET", "/api/v1/nodes") not in double.requests
