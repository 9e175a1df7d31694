"""Logs that outlive their pods: kept copies of stopped and forgotten runs (issue 17, 10)."""

from __future__ import annotations

import base64
import gzip
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitPhase
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.log_archive import KEPT_BYTES, keep_log
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.waiting import eventually
from tests.integration.runtimes.kubernetes.conftest import (
    KEY,
    NAMESPACE,
    current_pod,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def _read(runtime: KubernetesRuntime, key: UnitKey = KEY, **flags: bool) -> bytes:
    async with aclosing(runtime.logs(key, **flags)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def _run(
    runtime: KubernetesRuntime, double: KubeApiDouble, text: bytes, key: UnitKey = KEY
) -> str:
    """One run of `key` that writes `text` and exits 0; returns its pod's name."""
    await runtime.start(spec(key))
    name = current_pod(double, key)["metadata"]["name"]
    double.write_log(NAMESPACE, name, text)
    double.finish_pod(NAMESPACE, name, 0)
    await wait_for(runtime, key, lambda s: s.phase is UnitPhase.EXITED)
    return name


def _kept(double: KubeApiDouble) -> list[str]:
    items = double.store.list("configmaps", NAMESPACE, labels="sapwood.dev/kept-log=true")[0]
    return sorted(item["metadata"]["name"] for item in items)


async def test_a_forgotten_run_keeps_its_log(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    name = await _run(runtime, double, b"epoch 1\nloss 0.1\n")
    await runtime.forget(KEY)
    assert double.pods(NAMESPACE) == []  # the pod, and with it its containers, are gone
    assert await _read(runtime) == b"epoch 1\nloss 0.1\n"
    assert await _read(runtime, follow=True) == b"epoch 1\nloss 0.1\n"  # and ends: no run
    assert _kept(double) == [f"{name}-log"]


async def test_previous_survives_its_pod(runtime: KubernetesRuntime, double: KubeApiDouble) -> None:
    await _run(runtime, double, b"first\n")
    await _run(runtime, double, b"second\n")  # the first run is now the previous one
    await runtime.forget(KEY)
    assert await _read(runtime) == b"second\n"
    assert await _read(runtime, previous=True) == b"first\n"
    # The key runs again: its previous run is the kept second one, its pod long gone.
    await runtime.start(spec())
    double.write_log(NAMESPACE, current_pod(double)["metadata"]["name"], b"third\n")
    assert await _read(runtime) == b"third\n"
    assert await _read(runtime, previous=True) == b"second\n"


async def test_a_stopped_pod_whose_containers_were_collected(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    name = current_pod(double)["metadata"]["name"]
    double.write_log(NAMESPACE, name, b"serving\nshutting down\n")
    await runtime.stop(KEY, grace_period_s=0)
    double.collect_containers()  # the kubelet removes a deleted pod's containers
    assert await _read(runtime) == b"serving\nshutting down\n"


async def test_a_long_log_is_kept_truncated_and_says_so(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    lines = b"".join(b"line %07d %s\n" % (i, b"x" * 90) for i in range(15_000))  # ~1.6 MiB
    name = await _run(runtime, double, lines)
    await runtime.forget(KEY)
    kept = await _read(runtime)
    notice, _, data = kept.partition(b"\n")
    assert notice.decode() == (
        f"[sapwood] pod {name} is gone; this is the kept copy of its log, "
        f"truncated to its last {len(data)} bytes"
    )
    assert len(data) <= KEPT_BYTES
    assert lines.endswith(data)  # the last lines,
    assert data.startswith(b"line ")  # whole
    (kept_map,) = double.store.list("configmaps", NAMESPACE)[0]
    stored = base64.b64decode(kept_map["binaryData"]["log.gz"])
    assert len(stored) < 1024 * 1024  # a ConfigMap holds at most 1 MiB
    assert gzip.decompress(stored) == data


async def test_kept_copies_are_bounded(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    other = UnitKey("Job", "research", "old")
    await _run(runtime, double, b"old\n", other)
    week_ago = datetime.now(UTC).date() - timedelta(days=8)
    await keep_log(kube, current_pod(double, other), today=week_ago)  # kept 8 days ago
    names = [await _run(runtime, double, b"run %d\n" % i) for i in range(1, 4)]
    await runtime.forget(KEY)
    # The two newest runs of KEY are kept; run 1's copy and the expired one are gone.
    assert _kept(double) == sorted(f"{name}-log" for name in names[1:])
    assert await _read(runtime, previous=True) == b"run 2\n"


async def test_a_pod_deleted_by_someone_else_keeps_its_log(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    web = UnitKey("Service", "research", "web")
    await runtime.start(spec(web))
    name = current_pod(double, web)["metadata"]["name"]
    double.write_log(NAMESPACE, name, b"serving\nrequest 1\n")

    # kubectl delete pod (or a drain): the finalizer holds the pod until its end is seen
    kube.delete(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", propagation="Background")
    await wait_for(runtime, web, lambda s: s.phase is UnitPhase.EXITED)

    async def gone() -> bool:
        await runtime.observe()  # the pass after the end was reported releases the pod
        return double.pods(NAMESPACE) == []

    await eventually(gone, lambda done: done, what="the deleted pod gone")
    assert _kept(double) == [f"{name}-log"]
    assert await _read(runtime, web) == b"serving\nrequest 1\n"
