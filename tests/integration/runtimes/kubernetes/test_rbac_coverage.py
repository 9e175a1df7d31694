"""Every grant of the install is used: a scripted scenario runs each runtime operation as the
install's ServiceAccount, then each (API group, resource, verb) the rendered install grants
the server must have been allowed at least once. A grant no operation exercises fails here:
remove it from manifests/install_rbac.py (or add the operation that needs it to the scenario).
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import replace

import pytest

from sapwood.manifests.install import render_install
from sapwood.manifests.install_secrets import seeded_bytes
from sapwood.server.runtimes.base import (
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    VolumeMount,
)
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.jobs import job_manifest, jobs_path
from sapwood.server.runtimes.kubernetes.manifests import pod_manifest
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.kube_rbac import Attributes
from tests.integration.runtimes.kubernetes.conftest import (
    INSTALL,
    NAMESPACE,
    SERVER_USER,
    current_pod,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio

WEB = UnitKey("Service", "research", "web")
TRAIN = UnitKey("Job", "research", "train")
WAITING = UnitKey("Job", "research", "waiting")


def granted() -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every rule the install binds to the server."""
    options = INSTALL.render_options()
    server_roles = {f"{options.server_service_account}-cluster", options.workload_role}
    return {
        (group, resource, verb)
        for manifest in render_install(INSTALL, randbytes=seeded_bytes(0))
        if manifest["kind"] == "ClusterRole" and manifest["metadata"]["name"] in server_roles
        for rule in manifest["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


async def read_logs(runtime: KubernetesRuntime, key: UnitKey, **flags: bool) -> bytes:
    async with aclosing(runtime.logs(key, **flags)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def run_every_operation(
    runtime: KubernetesRuntime,
    settings: KubernetesRuntimeSettings,
    double: KubeApiDouble,
    kube: KubeClient,
) -> None:
    # A Service unit (a bare Pod) with a token and a volume, in a team namespace made now.
    web = spec(WEB, env={"SAPWOOD_TOKEN": "s3cret"}, volumes=(VolumeMount("data", "/data"),))
    await runtime.start(web)
    first = current_pod(double, WEB)["metadata"]["name"]
    double.write_log(NAMESPACE, first, b"first run\n")
    assert await read_logs(runtime, WEB) == b"first run\n"
    double.finish_pod(NAMESPACE, first, 1)
    await wait_for(runtime, WEB, lambda s: s.phase is UnitPhase.EXITED)
    await runtime.start(web)  # the first run becomes the previous one
    assert await read_logs(runtime, WEB, previous=True) == b"first run\n"
    second = current_pod(double, WEB)["metadata"]["name"]
    double.write_log(NAMESPACE, second, b"second run\n")
    double.finish_pod(NAMESPACE, second, 1)
    await wait_for(runtime, WEB, lambda s: s.phase is UnitPhase.EXITED)
    await runtime.start(web)  # a third run: the first run's pod goes, its log is kept
    double.write_log(NAMESPACE, current_pod(double, WEB)["metadata"]["name"], b"third run\n")
    await runtime.observe()
    double.pod_metrics = {
        (NAMESPACE, name): {
            "metadata": {"name": name, "namespace": NAMESPACE},
            "containers": [{"name": "main", "usage": {"cpu": "100m", "memory": "1Mi"}}],
        }
        for name in (p["metadata"]["name"] for p in double.pods(NAMESPACE))
    }
    await runtime.usage()
    await runtime.capacity()
    await runtime.stop(WEB)
    await runtime.forget(WEB)

    # A Job unit: a batch/v1 Job per run.
    await runtime.start(spec(TRAIN))
    double.finish_pod(NAMESPACE, current_pod(double, TRAIN)["metadata"]["name"], 0)
    await wait_for(runtime, TRAIN, lambda s: s.phase is UnitPhase.EXITED)
    await runtime.start(spec(TRAIN))
    await runtime.stop(TRAIN)
    await runtime.forget(TRAIN)

    # A Job whose Pod does not come: start quotes the Job controller's complaint (events).
    waiting = KubernetesRuntime(replace(settings, pod_wait_s=0.3))
    try:
        pod = pod_manifest(spec(WAITING), namespace=NAMESPACE, run=1, image="python:3.11-slim")
        job = job_manifest(pod)
        job["spec"]["suspend"] = True
        kube.apply(jobs_path(NAMESPACE, job["metadata"]["name"]), job)
        with pytest.raises(RuntimeTemporaryError, match="has no pod yet"):
            await waiting.start(spec(WAITING))
    finally:
        await waiting.close()

    # A second runtime (another replica, a restart) finds the team namespaces by listing.
    again = KubernetesRuntime(settings)
    try:
        await again.observe()
    finally:
        await again.close()


# Refusals the runtime expects and handles: without the opt-in cluster-wide pod list
# (install_rbac.capacity_rules), capacity does not subtract other tenants' pods.
EXPECTED_REFUSALS = {("", "pods", "list", "")}


def _refusal(attrs: Attributes) -> tuple[str, str, str, str]:
    return (attrs.api_group, attrs.full_resource, attrs.verb, attrs.namespace)


async def test_every_grant_of_the_install_is_used_and_nothing_else_is_asked(
    runtime: KubernetesRuntime,
    settings: KubernetesRuntimeSettings,
    double: KubeApiDouble,
    kube: KubeClient,
) -> None:
    await run_every_operation(runtime, settings, double, kube)

    unused = granted() - double.rbac.used(SERVER_USER)
    assert not unused, f"grants no runtime operation used: {sorted(unused)}"
    refused = {_refusal(a) for a in double.rbac.refused(SERVER_USER)}
    assert refused <= EXPECTED_REFUSALS, f"the install's RBAC refused: {sorted(refused)}"
