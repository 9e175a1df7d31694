"""Unit pods against the API server's admission: Pod Security, ResourceQuota, sidecars."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sapwood.manifests.options import RenderOptions
from sapwood.manifests.team import render_team
from sapwood.server.runtimes.base import (
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    VolumeMount,
)
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import (
    KEY,
    NAMESPACE,
    current_pod,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
SERVICE = UnitKey("Service", "research", "web")


def team_namespace(double: KubeApiDouble, labels: dict[str, str]) -> None:
    """The team namespace as the runtime makes it, with `labels` added (an admin's)."""
    namespace, *_ = render_team("research", namespace=NAMESPACE, options=RenderOptions())
    namespace["metadata"]["labels"].update(labels)
    double.store.create("namespaces", "", namespace)


@pytest.mark.parametrize("key", [KEY, SERVICE], ids=["job", "service"])
async def test_a_unit_starts_in_a_namespace_enforcing_restricted(
    runtime: KubernetesRuntime, double: KubeApiDouble, key: UnitKey
) -> None:
    team_namespace(double, RESTRICTED)
    state = await runtime.start(spec(key))
    assert state.phase is UnitPhase.RUNNING
    pod = current_pod(double, key)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["status"]["phase"] == "Running"


async def test_a_jupyter_like_pod_runs_as_uid_1000_with_an_fs_group(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    key = UnitKey("Workspace", "research", "notebook")
    volume = VolumeMount(name="notes", path="/home/jovyan/work")
    await runtime.start(spec(key, volumes=(volume,)))
    pod = current_pod(double, key)
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,  # the claim's files become writable by the notebook's group
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    # a live session: the cluster autoscaler must not drain it away
    assert pod["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == (
        "false"
    )


async def test_a_service_replica_may_be_evicted_by_the_autoscaler(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec(SERVICE))
    annotations = current_pod(double, SERVICE)["metadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true"


async def test_an_admin_may_let_images_run_as_their_own_user_where_baseline_is_enforced(
    double: KubeApiDouble, settings: KubernetesRuntimeSettings
) -> None:
    team_namespace(double, RESTRICTED)
    baseline = KubernetesRuntimeSettings(
        kubeconfig=settings.kubeconfig, stop_poll_s=0.02, pod_security="baseline"
    )
    runtime = KubernetesRuntime(baseline)
    try:
        # restricted refuses a pod that may run as root, and says why; the start waits
        with pytest.raises(RuntimeTemporaryError) as refused:
            await runtime.start(spec(SERVICE))
        assert "PodSecurity: " in str(refused.value)
        assert 'violates PodSecurity "restricted:latest": ' in str(refused.value)
        labels = {"pod-security.kubernetes.io/enforce": "baseline"}
        double.store.patch(
            "namespaces", "", NAMESPACE, {"metadata": {"labels": labels}}, status=False
        )
        await runtime.start(spec(SERVICE))
        assert "runAsNonRoot" not in current_pod(double, SERVICE)["spec"]["securityContext"]
    finally:
        await runtime.close()


async def test_a_full_quota_delays_a_start_until_it_is_raised(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    team_namespace(double, {})
    double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "1"})
    with pytest.raises(RuntimeTemporaryError) as refused:
        await runtime.start(spec(SERVICE, cpu_millis=2000))
    assert str(refused.value).startswith("ResourceQuota: ")
    assert "exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=0, " in str(
        refused.value
    )
    double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "4"})
    state = await runtime.start(spec(SERVICE, cpu_millis=2000))
    assert state.phase is UnitPhase.RUNNING


def _names(statuses: list[dict[str, Any]]) -> list[str]:
    return [s["name"] for s in statuses]


async def test_a_job_with_an_injected_sidecar_ends_when_its_main_container_does(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.inject_sidecar("istio-proxy")
    await runtime.start(spec(KEY))
    pod = current_pod(double, KEY)
    # the kubelet reports statuses sorted by name: the proxy comes first
    assert _names(pod["status"]["containerStatuses"]) == ["istio-proxy", "main"]
    double.finish_pod(NAMESPACE, pod["metadata"]["name"], 0, container="main")
    assert current_pod(double, KEY)["status"]["phase"] == "Running"  # the proxy runs on
    state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert (state.reason, state.exit_code) == (UnitReason.COMPLETED, 0)


async def test_a_native_sidecar_lets_the_pod_itself_succeed(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.inject_sidecar("istio-proxy", native=True)
    await runtime.start(spec(KEY))
    pod = current_pod(double, KEY)
    double.finish_pod(NAMESPACE, pod["metadata"]["name"], 0, container="main")
    assert current_pod(double, KEY)["status"]["phase"] == "Succeeded"
    state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert state.reason == UnitReason.COMPLETED


async def test_a_job_whose_pod_a_full_quota_refuses_runs_once_it_is_raised(
    double: KubeApiDouble, settings: KubernetesRuntimeSettings
) -> None:
    team_namespace(double, {})
    double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "1"})
    quick = KubernetesRuntimeSettings(
        kubeconfig=settings.kubeconfig, stop_poll_s=0.02, pod_wait_s=0.3
    )
    runtime = KubernetesRuntime(quick)
    try:
        with pytest.raises(RuntimeTemporaryError, match="exceeded quota: compute"):
            await runtime.start(spec(KEY, cpu_millis=2000))  # the Job controller's complaint
        double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "4"})
        state = await runtime.start(spec(KEY, cpu_millis=2000))
        assert state.phase is UnitPhase.RUNNING
    finally:
        await runtime.close()


async def test_a_refused_job_pod_is_reported_at_once_not_after_the_wait(
    double: KubeApiDouble, settings: KubernetesRuntimeSettings
) -> None:
    team_namespace(double, {})
    double.add_resource_quota(NAMESPACE, "compute", {"requests.cpu": "1"})
    # A wait far longer than the test may run: the refusal must come from the new event.
    patient = KubernetesRuntimeSettings(
        kubeconfig=settings.kubeconfig, stop_poll_s=0.02, pod_wait_s=3600
    )
    runtime = KubernetesRuntime(patient)
    try:
        with anyio.fail_after(60):
            with pytest.raises(RuntimeTemporaryError) as refused:
                await runtime.start(spec(KEY, cpu_millis=2000))
        assert str(refused.value).startswith("ResourceQuota: job ")
        assert "exceeded quota: compute" in str(refused.value)
    finally:
        await runtime.close()
