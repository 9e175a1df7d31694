"""A two-replica install under Pod Security "restricted", on a real cluster (opt-in, see
conftest.py). Never run from CI: it applies the whole install, cluster-scoped objects
included (ClusterRoles, admission policies, PriorityClasses), and deletes them after.

SAPWOOD_K8S_IMAGE names a server image the cluster can pull (default: the install's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from sapwood.manifests.install import InstallOptions, render_install
from sapwood.manifests.team import render_team
from sapwood.server.runtimes.base import UnitKey, UnitPhase, UnitSpec
from sapwood.server.runtimes.kubernetes.client import KubeClient, api_client
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_rbac import impersonate
from sapwood.testing.waiting import eventually, eventually_sync

pytestmark = [pytest.mark.anyio, pytest.mark.k8s, pytest.mark.timeout(900)]

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
# kind -> (API prefix, plural, namespaced)
API = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Secret": ("/api/v1", "secrets", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "PriorityClass": ("/apis/scheduling.k8s.io/v1", "priorityclasses", False),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    "Ingress": ("/apis/networking.k8s.io/v1", "ingresses", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
    "ValidatingAdmissionPolicy": (
        "/apis/admissionregistration.k8s.io/v1",
        "validatingadmissionpolicies",
        False,
    ),
    "ValidatingAdmissionPolicyBinding": (
        "/apis/admissionregistration.k8s.io/v1",
        "validatingadmissionpolicybindings",
        False,
    ),
}


def api_path(manifest: dict[str, Any]) -> str:
    prefix, plural, namespaced = API[manifest["kind"]]
    meta = manifest["metadata"]
    where = f"/namespaces/{meta['namespace']}" if namespaced else ""
    return f"{prefix}{where}/{plural}/{meta['name']}"


@pytest.fixture
def install(kube: KubeClient) -> Iterator[InstallOptions]:
    """The install (two server replicas) in namespace `sapwood`, labelled to enforce
    Pod Security "restricted" before any pod is made; deleted afterwards."""
    options = InstallOptions(server_replicas=2)
    if image := os.environ.get("SAPWOOD_K8S_IMAGE"):
        options = replace(options, image=image)
    manifests = render_install(options)
    for manifest in manifests:
        if manifest["kind"] == "Namespace":
            manifest["metadata"]["labels"].update(RESTRICTED)
        kube.apply(api_path(manifest), manifest)
    yield options
    for manifest in reversed(manifests):
        if not API[manifest["kind"]][2]:  # namespaced objects go with their namespace
            kube.delete(api_path(manifest), propagation="Foreground")


def test_two_replicas_run_under_restricted_pod_security(
    kube: KubeClient, install: InstallOptions
) -> None:
    path = f"/apis/apps/v1/namespaces/{install.namespace}/deployments/sapwood"

    def status() -> dict[str, Any]:
        found: dict[str, Any] = kube.request("GET", path).get("status", {})
        return found

    eventually_sync(
        status,
        lambda found: found.get("readyReplicas") == 2,
        timeout_s=600,
        interval_s=5,
        what="both server replicas to be ready",
    )
    events = kube.request("GET", f"/api/v1/namespaces/{install.namespace}/events")
    refused = [e["message"] for e in events.get("items") or [] if "PodSecurity" in e["message"]]
    assert refused == []


async def test_a_unit_runs_in_a_restricted_team_namespace_as_the_server(
    kube: KubeClient,
    install: InstallOptions,
    settings: KubernetesRuntimeSettings,
    prefix: str,
) -> None:
    """The runtime, impersonating the install's ServiceAccount, starts a unit in a team
    namespace that enforces "restricted": its Pod must pass admission and run."""
    options = install.render_options()
    team = "restricted"
    # the install's admission policy admits team namespaces with its prefix only
    own_prefix = prefix if prefix.startswith(options.namespace_prefix) else f"sapwood-{prefix}"
    namespace = f"{own_prefix}{team}"
    ns, binding, policy = render_team(team, namespace=namespace, options=options)
    ns["metadata"]["labels"].update(RESTRICTED)
    kube.request("POST", "/api/v1/namespaces", body=ns)
    kube.apply(api_path(binding), binding)
    kube.apply(api_path(policy), policy)
    api_settings = replace(settings, namespace_prefix=own_prefix)
    api = api_client(api_settings)
    impersonate(api, f"system:serviceaccount:{install.namespace}:sapwood")
    runtime = KubernetesRuntime(api_settings, kube=KubeClient(api, timeout_s=30))
    key = UnitKey("Job", team, "hello")
    try:
        unit = UnitSpec(key=key, command=("python", "-c", "print('hello')"), env={})
        await runtime.start(unit)
        await eventually(
            runtime.observe,
            lambda states: any(s.key == key and s.phase is UnitPhase.EXITED for s in states),
            timeout_s=300,
            interval_s=2,
            what="the unit to run to its end",
        )
        states = {s.key: s for s in await runtime.observe()}
        assert states[key].exit_code == 0
        await runtime.forget(key)
    finally:
        await runtime.close()
        kube.delete(f"/api/v1/namespaces/{namespace}", propagation="Foreground")
