"""Logs through pods/log, capacity from nodes, usage from metrics.k8s.io."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import pytest

from sapwood.manifests.install_rbac import capacity_rules
from sapwood.server.runtimes.base import UnitKey, UnitPhase
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import (
    KEY,
    NAMESPACE,
    current_pod,
    grant_server,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def _read(runtime: KubernetesRuntime, **flags: bool) -> bytes:
    async with aclosing(runtime.logs(KEY, **flags)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_logs_and_previous_logs(runtime: KubernetesRuntime, double: KubeApiDouble) -> None:
    await runtime.start(spec())
    first = current_pod(double)["metadata"]["name"]
    double.write_log(NAMESPACE, first, b"epoch 1\n")
    assert await _read(runtime) == b"epoch 1\n"
    double.finish_pod(NAMESPACE, first, 1)
    await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    await runtime.start(spec())
    double.write_log(NAMESPACE, current_pod(double)["metadata"]["name"], b"again\n")
    assert await _read(runtime) == b"again\n"
    assert await _read(runtime, previous=True) == b"epoch 1\n"


async def test_follow_goes_on_across_runs(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    first = current_pod(double)["metadata"]["name"]
    double.write_log(NAMESPACE, first, b"one\n")
    seen = b""
    async with aclosing(runtime.logs(KEY, follow=True)) as chunks:
        with anyio.fail_after(10):
            async for chunk in chunks:
                seen += chunk
                if seen == b"one\n":
                    double.write_log(NAMESPACE, first, b"two\n")
                elif seen == b"one\ntwo\n":
                    double.finish_pod(NAMESPACE, first, 1)
                    await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
                    await runtime.start(spec())
                    double.write_log(NAMESPACE, current_pod(double)["metadata"]["name"], b"x\n")
                elif seen.endswith(b"x\n"):
                    break
    assert seen == b"one\ntwo\nx\n"


async def test_logs_of_a_pending_pod_are_empty(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.kubelet.auto_run = False
    await runtime.start(spec())
    assert await _read(runtime) == b""


async def test_capacity_is_allocatable_less_other_tenants(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.add_node("gpu-a", cpu="16", memory="64Gi", gpus=2, gpu_product="NVIDIA-A100-SXM4-80GB")
    double.add_node("cordoned", cpu="64", memory="256Gi", unschedulable=True)
    double.add_namespace("kube-system")
    grant_server(double, "sapwood-capacity", capacity_rules())  # an admin's opt-in
    daemon = {
        "metadata": {"name": "dns"},
        "spec": {
            "nodeName": "gpu-a",
            "containers": [
                {"name": "dns", "image": "coredns", "resources": {"requests": {"cpu": "500m"}}}
            ],
        },
    }
    double.kubelet.auto_run = False
    double.store.create("pods", "kube-system", daemon)
    await runtime.start(spec(cpu_millis=1000))  # Sapwood's own units are not subtracted
    capacity = await runtime.capacity()
    assert capacity.cpu_millis == 4000 + 16000 - 500
    assert capacity.memory_bytes == 80 * 2**30
    assert capacity.gpus == 2
    assert capacity.gpu_models == ("NVIDIA-A100-SXM4-80GB",) * 2


async def test_capacity_without_cluster_wide_pod_reads(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.fail_next(403, "forbidden", path_contains="/api/v1/pods")
    assert (await runtime.capacity()).cpu_millis == 4000


async def test_usage_from_pod_metrics(runtime: KubernetesRuntime, double: KubeApiDouble) -> None:
    await runtime.start(spec())
    assert await runtime.usage() == {}  # no metrics API
    name = current_pod(double)["metadata"]["name"]
    double.pod_metrics = {
        (NAMESPACE, name): {
            "metadata": {"name": name, "namespace": NAMESPACE},
            "containers": [{"name": "main", "usage": {"cpu": "250m", "memory": "512Mi"}}],
        },
        (NAMESPACE, "stranger"): {"metadata": {"name": "stranger"}, "containers": []},
    }
    usage = await runtime.usage()
    assert set(usage) == {KEY}
    assert usage[KEY].cpu_percent == 25.0
    assert usage[KEY].memory_bytes == 512 * 2**20
    assert UnitKey("Job", "research", "other") not in usage
