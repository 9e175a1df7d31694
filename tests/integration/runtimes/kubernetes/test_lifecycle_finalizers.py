"""How unit pods end and are let go: the finalizer is released once the end was
accounted for, pods deleted by someone else go, stop() ends a pod without deleting it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitPhase, UnitReason
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.manifests import FINALIZER
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.waiting import eventually
from tests.integration.runtimes.kubernetes.conftest import NAMESPACE, current_pod, spec, wait_for

pytestmark = pytest.mark.anyio

WEB = UnitKey("Service", "research", "web")


def _path(name: str) -> str:
    return f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"


async def test_a_pod_deleted_by_someone_else_ends_the_unit_and_goes(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec(WEB))
    name = current_pod(double, WEB)["metadata"]["name"]

    kube.delete(_path(name), propagation="Background")  # kubectl delete pod, by a user

    state = await wait_for(runtime, WEB, lambda s: s.phase is UnitPhase.EXITED)
    assert state.exit_code == 143
    assert "deleted outside Sapwood" in (state.message or "")
    await eventually(lambda: _observed_until_gone(runtime, double))
    # gone from the cluster, still reported as it ended until forget()
    (kept,) = await runtime.observe()
    assert (kept.phase, kept.exit_code) == (UnitPhase.EXITED, 143)
    await runtime.forget(WEB)
    assert await runtime.observe() == []


async def test_a_finished_pod_no_longer_holds_its_deletion(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec(WEB))
    name = current_pod(double, WEB)["metadata"]["name"]
    double.finish_pod(NAMESPACE, name, 0)
    await wait_for(runtime, WEB, lambda s: s.phase is UnitPhase.EXITED)

    async def released() -> bool:
        await runtime.observe()  # reported once, released on a later pass
        return FINALIZER not in (current_pod(double, WEB)["metadata"].get("finalizers") or [])

    await eventually(released)
    # what a drain, an uninstall or a namespace deletion does now completes at once
    kube.delete(_path(name), propagation="Background")
    assert double.pods(NAMESPACE) == []


async def test_a_finalizer_release_that_races_the_gc_never_puts_one_back(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec(WEB))
    name = current_pod(double, WEB)["metadata"]["name"]
    guard = "example.com/guard"
    kube.merge_patch(_path(name), {"metadata": {"finalizers": [FINALIZER, guard]}})
    double.finish_pod(NAMESPACE, name, 0)
    kube.delete(_path(name), propagation="Background")  # held by both finalizers
    races = _race_first_release(double, name, guard)

    await eventually(lambda: _observed_until_gone(runtime, double))
    assert races == [409]  # the release computed from the old copy was refused, then redone
    held = [
        guard in (e.object["metadata"].get("finalizers") or [])
        for e in double.store.history
        if e.plural == "pods" and e.object["metadata"]["name"] == name
    ]
    removed = held.index(False, held.index(True))  # the other party took it away
    assert not any(held[removed:])  # and no later write put it back


async def _observed_until_gone(runtime: KubernetesRuntime, double: KubeApiDouble) -> bool:
    await runtime.observe()  # each pass may release what an earlier one reported
    return double.pods(NAMESPACE) == []


def _race_first_release(double: KubeApiDouble, name: str, guard: str) -> list[int]:
    """Before the first patch that drops FINALIZER is applied, another party (the garbage
    collector, say) removes `guard`: the patch then carries a stale resourceVersion."""
    store = double.store
    original: Callable[..., Any] = store.patch
    answers: list[int] = []

    def patch(plural: str, namespace: str, pod: str, body: Any, **options: Any) -> Any:
        finalizers = (body.get("metadata") or {}).get("finalizers")
        if pod == name and finalizers is not None and FINALIZER not in finalizers and not answers:
            only_ours = {"metadata": {"finalizers": [FINALIZER]}}
            original(plural, namespace, pod, only_ours, **options)
            try:
                return original(plural, namespace, pod, body, **options)
            except Exception as error:
                answers.append(getattr(error, "code", 0))
                raise
        return original(plural, namespace, pod, body, **options)

    store.patch = patch  # type: ignore[method-assign,assignment]
    return answers


async def test_stop_ends_the_pod_in_place_and_keeps_it_until_forget(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec(WEB))

    await runtime.stop(WEB)  # the unit's own grace period

    pod = current_pod(double, WEB)
    assert "deletionTimestamp" not in pod["metadata"]  # the object and its logs stay
    assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed", "DeadlineExceeded")
    (state,) = await runtime.observe()
    assert (state.phase, state.reason) == (UnitPhase.EXITED, UnitReason.STOPPED)
    await runtime.forget(WEB)
    assert double.pods(NAMESPACE) == []
