"""Lost nodes, fencing and read-write-once claims, over the double's nodes and kubelet."""

from __future__ import annotations

import pytest

from sapwood.manifests.names import volume_claim_name
from sapwood.server.runtimes.base import UnitKey, UnitPhase, UnitReason, VolumeMount
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import NAMESPACE, current_pod, spec, wait_for

pytestmark = pytest.mark.anyio

WEB = UnitKey("Service", "research", "web")
NOTEBOOK = UnitKey("Workspace", "research", "notebook")
DATA = (VolumeMount("data", "/data"),)


async def test_a_unit_on_a_lost_node_is_fenced_until_its_pod_is_gone(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.add_node("node-b", cpu="4", memory="16Gi")
    await runtime.start(spec(WEB))
    assert current_pod(double, WEB)["spec"]["nodeName"] == "node-a"

    double.lose_node("node-a")
    lost = await wait_for(runtime, WEB, lambda s: s.reason == UnitReason.NODE_LOST)
    assert lost.phase is UnitPhase.RUNNING  # it may still run there: not replaced yet
    assert "node node-a stopped reporting at" in (lost.message or "")

    double.evict_lost_pods("node-a")  # the NoExecute toleration ran out
    evicted = await wait_for(runtime, WEB, lambda s: "DeletionByTaintManager" in (s.message or ""))
    assert (evicted.phase, evicted.reason) == (UnitPhase.RUNNING, UnitReason.NODE_LOST)
    again = await runtime.start(spec(WEB))  # fenced: no second copy while it may run
    assert again.reason == UnitReason.NODE_LOST
    assert len(double.pods(NAMESPACE)) == 1

    await runtime.stop(WEB, grace_period_s=1)  # returns: force-deleted after its grace
    (stopped,) = await runtime.observe()
    assert stopped.phase is UnitPhase.EXITED
    await runtime.forget(WEB)
    assert double.pods(NAMESPACE) == []

    replacement = await runtime.start(spec(WEB))
    assert (replacement.phase, replacement.reason) == (UnitPhase.RUNNING, None)
    assert current_pod(double, WEB)["spec"]["nodeName"] == "node-b"


async def test_a_pod_force_deleted_on_a_lost_node_ends_as_node_lost(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec(WEB))
    name = current_pod(double, WEB)["metadata"]["name"]
    double.lose_node("node-a")
    path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"

    kube.delete(path, propagation="Background", grace_period_s=0)  # an admin's force delete

    state = await wait_for(runtime, WEB, lambda s: s.phase is UnitPhase.EXITED)
    assert (state.reason, state.exit_code) == (UnitReason.NODE_LOST, None)
    assert "node node-a stopped reporting" in (state.message or "")


async def test_a_second_node_waiting_for_a_claim_says_why(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    double.add_node("node-b", cpu="4", memory="16Gi")
    await runtime.start(spec(NOTEBOOK, volumes=DATA))  # the namespace and the claim
    await runtime.stop(NOTEBOOK)
    claim = volume_claim_name("data")
    # a debugging pod someone runs on node-a with the team's claim, then node-a is cordoned
    debug = {
        "metadata": {"name": "debug"},
        "spec": {
            "containers": [{"name": "sh", "image": "busybox", "command": ["sleep", "1d"]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }
    kube.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body=debug)
    kube.merge_patch("/api/v1/nodes/node-a", {"spec": {"unschedulable": True}})

    await runtime.start(spec(WEB, volumes=DATA))

    state = await wait_for(runtime, WEB, lambda s: s.reason == "FailedAttachVolume")
    assert state.phase is UnitPhase.RUNNING
    assert "Multi-Attach error for volume" in (state.message or "")
    assert "Volume is already used by pod(s) debug" in (state.message or "")
    kube.delete(f"/api/v1/namespaces/{NAMESPACE}/pods/debug", propagation="Background")
    await wait_for(runtime, WEB, lambda s: s.reason is None)


async def test_units_sharing_a_claim_share_its_node(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.add_node("node-b", cpu="8", memory="16Gi")
    # too big for node-a (4 cores): the scheduler puts it on node-b
    await runtime.start(spec(NOTEBOOK, volumes=DATA, cpu_millis=6000))
    assert current_pod(double, NOTEBOOK)["spec"]["nodeName"] == "node-b"

    state = await runtime.start(spec(WEB, volumes=DATA, cpu_millis=500))

    assert current_pod(double, WEB)["spec"]["nodeName"] == "node-b"  # not node-a
    assert state.reason is None
