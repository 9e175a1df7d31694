"""The install's RBAC, enforced by the API double as kube-apiserver does: what the server's
ServiceAccount may and may not do, and the real refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sapwood.manifests.team import render_team_access
from sapwood.server.runtimes.kubernetes.client import KubeClient, api_client
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.kube_rbac import impersonate
from tests.integration.runtimes.kubernetes.conftest import (
    NAMESPACE,
    SERVER,
    SERVER_USER,
    spec,
)

pytestmark = pytest.mark.anyio

RBAC = "/apis/rbac.authorization.k8s.io/v1"
SA = SERVER_USER.name
CLUSTER_ADMIN_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]


@pytest.fixture
def server(settings: KubernetesRuntimeSettings) -> Iterator[KubeClient]:
    """A raw client with the runtime's identity (the install's ServiceAccount)."""
    client = KubeClient(api_client(settings), timeout_s=5)
    yield client
    client.close()


@pytest.fixture
def kube_system(double: KubeApiDouble) -> str:
    double.add_namespace("kube-system")
    return "kube-system"


def refusal(call: Any, *args: Any, **kwargs: Any) -> ApiStatusError:
    with pytest.raises(ApiStatusError) as caught:
        call(*args, **kwargs)
    return caught.value


def binding(namespace: str, role: str, *, subject: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "sapwood-takeover", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [
            subject or {"kind": "ServiceAccount", "name": SERVER[1], "namespace": SERVER[0]}
        ],
    }


def test_the_server_cannot_read_or_write_pods_or_secrets_in_kube_system(
    server: KubeClient, kube_system: str
) -> None:
    listed = refusal(server.request, "GET", f"/api/v1/namespaces/{kube_system}/pods")
    assert listed.status == 403
    assert str(listed.message) == (
        f'pods is forbidden: User "{SA}" cannot list resource "pods" in API group "" '
        f'in the namespace "{kube_system}"'
    )
    secret = {"metadata": {"name": "loot"}, "stringData": {"k": "v"}}
    created = refusal(
        server.request, "POST", f"/api/v1/namespaces/{kube_system}/secrets", body=secret
    )
    assert created.status == 403
    assert 'cannot create resource "secrets" in API group ""' in str(created.message)
    read = refusal(server.request, "GET", f"/api/v1/namespaces/{kube_system}/secrets/admin")
    assert str(read.message).startswith('secrets "admin" is forbidden: User ')


def test_the_server_cannot_bind_the_workload_role_into_kube_system(
    server: KubeClient, kube_system: str, double: KubeApiDouble
) -> None:
    path = f"{RBAC}/namespaces/{kube_system}/rolebindings"
    refused = refusal(server.request, "POST", path, body=binding(kube_system, "sapwood-workloads"))
    assert refused.status == 403
    assert str(refused.message) == (
        'rolebindings.rbac.authorization.k8s.io "sapwood-takeover" is forbidden: '
        "ValidatingAdmissionPolicy 'sapwood-team-bindings' with binding 'sapwood-team-bindings' "
        "denied request: the Sapwood server may only bind roles in Sapwood team namespaces "
        "(named sapwood-*, labelled app.kubernetes.io/managed-by=sapwood and sapwood.dev/team)"
    )
    assert double.store.list("rolebindings", kube_system)[0] == []
    # still nothing to read there
    assert refusal(server.request, "GET", f"/api/v1/namespaces/{kube_system}/pods").status == 403


def test_binding_cluster_admin_fails_the_escalation_check(
    server: KubeClient, double: KubeApiDouble
) -> None:
    double.store.create(
        "clusterroles", "", {"metadata": {"name": "cluster-admin"}, "rules": CLUSTER_ADMIN_RULES}
    )
    path = f"{RBAC}/namespaces/sapwood-default/rolebindings"
    refused = refusal(
        server.request, "POST", path, body=binding("sapwood-default", "cluster-admin")
    )
    assert refused.status == 403
    groups = '["system:serviceaccounts" "system:serviceaccounts:sapwood" "system:authenticated"]'
    assert str(refused.message) == (
        'rolebindings.rbac.authorization.k8s.io "sapwood-takeover" is forbidden: '
        f'user "{SA}" (groups={groups}) is attempting to grant RBAC permissions not currently '
        'held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n'
        '{NonResourceURLs:["*"], Verbs:["*"]}'
    )


def test_the_server_binds_only_its_own_account_in_team_namespaces(
    server: KubeClient, double: KubeApiDouble
) -> None:
    path = f"{RBAC}/namespaces/sapwood-default/rolebindings"
    team_sa = {"kind": "ServiceAccount", "name": "default", "namespace": "sapwood-default"}
    body = binding("sapwood-default", "sapwood-workloads", subject=team_sa)
    refused = refusal(server.request, "POST", path, body=body)
    assert refused.status == 403
    assert "may only bind roles to its own ServiceAccount sapwood/sapwood" in str(refused.message)
    # its own team binding is what it may make (the install made the default team's)
    access = render_team_access("default")
    access["metadata"]["name"] = "sapwood-again"
    server.request("POST", path, body=access)


def test_the_server_creates_only_labelled_team_namespaces(server: KubeClient) -> None:
    outside = {"metadata": {"name": "payments", "labels": {"sapwood.dev/team": "x"}}}
    refused = refusal(server.request, "POST", "/api/v1/namespaces", body=outside)
    assert "may only create namespaces named sapwood-*" in str(refused.message)
    unlabelled = {"metadata": {"name": "sapwood-x"}}
    refused = refusal(server.request, "POST", "/api/v1/namespaces", body=unlabelled)
    assert "must be labelled app.kubernetes.io/managed-by=sapwood" in str(refused.message)
    # and it cannot relabel a namespace that exists
    patch = {"metadata": {"labels": {"sapwood.dev/team": "kube"}}}
    relabel = refusal(server.merge_patch, "/api/v1/namespaces/sapwood-default", patch)
    assert str(relabel.message) == (
        f'namespaces "sapwood-default" is forbidden: User "{SA}" cannot patch resource '
        '"namespaces" in API group "" in the namespace "sapwood-default"'
    )


def test_cluster_scoped_refusals_say_so(server: KubeClient) -> None:
    refused = refusal(server.request, "GET", "/api/v1/pods")
    assert str(refused.message) == (
        f'pods is forbidden: User "{SA}" cannot list resource "pods" in API group "" '
        "at the cluster scope"
    )
    refused = refusal(server.request, "DELETE", f"{RBAC}/clusterroles/sapwood-workloads")
    assert str(refused.message) == (
        'clusterroles.rbac.authorization.k8s.io "sapwood-workloads" is forbidden: '
        f'User "{SA}" cannot delete resource "clusterroles" in API group '
        '"rbac.authorization.k8s.io" at the cluster scope'
    )


async def test_the_runtime_works_in_its_team_namespaces_only(
    runtime: KubernetesRuntime, server: KubeClient, double: KubeApiDouble
) -> None:
    await runtime.start(spec())  # makes sapwood-research and binds the workload role there
    pods = server.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
    assert len(pods["items"]) == 1
    log = f"/api/v1/namespaces/{NAMESPACE}/pods/{pods['items'][0]['metadata']['name']}/log"
    server.read(log)
    refused = refusal(server.request, "GET", f"/api/v1/namespaces/{NAMESPACE}/services")
    assert 'cannot list resource "services"' in str(refused.message)  # never granted


def test_an_unknown_token_is_unauthorized(double: KubeApiDouble, tmp_path: Path) -> None:
    config = double.write_kubeconfig(tmp_path / "kubeconfig")
    config.write_text(config.read_text().replace("double-token", "stolen"))
    client = KubeClient(api_client(KubernetesRuntimeSettings(kubeconfig=config)), timeout_s=5)
    try:
        refused = refusal(client.request, "GET", "/api/v1/namespaces")
    finally:
        client.close()
    assert (refused.status, str(refused.message)) == (401, "Unauthorized")


def test_impersonating_the_server_applies_its_rbac(
    admin_settings: KubernetesRuntimeSettings, kube_system: str
) -> None:
    """What the real-cluster suite's impersonation mode relies on."""
    api = api_client(admin_settings)
    impersonate(api, SA)
    client = KubeClient(api, timeout_s=5)
    try:
        refused = refusal(client.request, "GET", f"/api/v1/namespaces/{kube_system}/secrets")
        client.request("GET", "/api/v1/nodes")
    finally:
        client.close()
    assert f'User "{SA}" cannot list resource "secrets"' in str(refused.message)
