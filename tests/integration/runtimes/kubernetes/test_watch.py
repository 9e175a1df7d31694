"""observe() through list + watch: bookmarks, 410 Gone and relisting, pod conditions."""

from __future__ import annotations

import json

import pytest

from sapwood.server.runtimes.base import UnitPhase, UnitReason
from sapwood.server.runtimes.kubernetes.client import KubeClient, lines
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


def _watch(kube: KubeClient, version: str, *, limit: int) -> list[dict[str, object]]:
    query: list[tuple[str, str | int | bool]] = [
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", version),
        ("timeoutSeconds", 2),
    ]
    raw = kube.open_stream(f"/api/v1/namespaces/{NAMESPACE}/pods", query=query, read_timeout_s=5)
    events = []
    try:
        for line in lines(raw.stream(4096)):
            events.append(json.loads(line))
            if len(events) >= limit:
                break
    finally:
        raw.release_conn()
    return events


async def test_watch_sends_events_then_bookmarks(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec())
    events = _watch(kube, "0", limit=4)
    types = [e["type"] for e in events]
    assert types[0] == "ADDED"
    assert "BOOKMARK" in types


async def test_watch_from_a_compacted_version_is_gone(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec())
    double.compact()
    (event,) = _watch(kube, "1", limit=1)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410  # type: ignore[index]


async def test_the_informer_relists_after_410_and_misses_nothing(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    await runtime.observe()
    informer = runtime.informer(NAMESPACE)
    assert informer.relists == 1
    double.expire_watches()
    double.finish_pod(NAMESPACE, current_pod(double)["metadata"]["name"], 2)
    state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert (state.exit_code, state.reason) == (2, UnitReason.ERROR)
    assert informer.relists >= 2


async def test_pending_reasons_carry_the_clusters_words(
    double: KubeApiDouble, settings: KubernetesRuntimeSettings
) -> None:
    double.kubelet.auto_run = False
    runtime = KubernetesRuntime(settings)
    try:
        await runtime.start(spec())
        name = current_pod(double)["metadata"]["name"]
        message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
        double.set_pod_status(
            NAMESPACE,
            name,
            {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                    }
                ],
            },
        )
        state = await wait_for(runtime, KEY, lambda s: s.reason == "Unschedulable")
        assert (state.phase, state.message) == (UnitPhase.RUNNING, message)
        waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}
        double.set_pod_status(
            NAMESPACE,
            name,
            {"phase": "Pending", "containerStatuses": [{"name": "main", "state": waiting}]},
        )
        state = await wait_for(runtime, KEY, lambda s: s.reason == "ImagePullBackOff")
        assert state.message == "pull access denied"
        double.set_pod_status(
            NAMESPACE,
            name,
            {"phase": "Failed", "reason": "Evicted", "message": "The node was low on memory."},
        )
        state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
        assert (state.reason, state.message) == (UnitReason.EVICTED, "The node was low on memory.")
        await runtime.forget(KEY)
    finally:
        await runtime.close()


async def test_oom_killed_is_reported(runtime: KubernetesRuntime, double: KubeApiDouble) -> None:
    await runtime.start(spec())
    name = current_pod(double)["metadata"]["name"]
    double.finish_pod(NAMESPACE, name, 137, reason="OOMKilled")
    state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert (state.exit_code, state.reason) == (137, UnitReason.OOM_KILLED)
