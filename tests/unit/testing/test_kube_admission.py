"""The API double's admission plugins give the real API server's verdicts and words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sapwood.testing.kube_admission import (
    Admission,
    format_quantity,
    parse_quantity,
    quota_refusal,
)
from sapwood.testing.kube_pod_security import refusal
from sapwood.testing.kube_store import ApiError, KubeStore

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


def _pod(name: str = "p", *, cpu: str | None = "2", phase: str | None = None) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    pod: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "x", "resources": resources}]},
    }
    if phase:
        pod["status"] = {"phase": phase}
    return pod


def test_a_bare_pod_violates_restricted_with_the_real_message() -> None:
    spec = {"containers": [{"name": "main", "image": "x"}]}
    assert refusal(RESTRICTED, spec) == (
        'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "main" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "main" must set securityContext.capabilities'
        '.drop=["ALL"]), runAsNonRoot != true (pod or container "main" must set '
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "main" must '
        'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )


def test_restricted_pod_level_settings_cover_the_containers() -> None:
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "main",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
            }
        ],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}],
    }
    assert refusal(RESTRICTED, spec) is None
    spec["securityContext"]["runAsUser"] = 0
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert refusal(RESTRICTED, spec) == (
        'violates PodSecurity "restricted:latest": restricted volume types (volumes ["host"] '
        "have restricted types), runAsUser=0 (pod must not set runAsUser=0)"
    )


def test_baseline_refuses_privileged_and_host_namespaces_only() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [{"name": "main", "securityContext": {"privileged": True}}],
    }
    baseline = {"pod-security.kubernetes.io/enforce": "baseline"}
    assert refusal(baseline, spec) == (
        'violates PodSecurity "baseline:latest": host namespaces (hostNetwork), privileged '
        '(container "main" must not set securityContext.privileged=true)'
    )
    assert refusal(baseline, {"containers": [{"name": "main"}]}) is None
    assert refusal({}, spec) is None  # no label: privileged


def test_quantities_parse_and_print_as_the_api_server_does() -> None:
    assert parse_quantity("500m") == Decimal("0.5")
    assert parse_quantity("2Gi") == 2 * 1024**3
    assert format_quantity(Decimal(2), binary=False) == "2"
    assert format_quantity(Decimal("1.5"), binary=False) == "1500m"
    assert format_quantity(Decimal(3 * 1024**3), binary=True) == "3Gi"
    with pytest.raises(ValueError, match="regular expression"):
        parse_quantity("two")


def test_quota_counts_non_terminal_pods_and_names_the_exceeded_resource() -> None:
    quota = {"metadata": {"name": "compute"}, "spec": {"hard": {"requests.cpu": "4"}}}
    others = [_pod("a", cpu="3"), _pod("b", cpu="8", phase="Succeeded")]
    assert quota_refusal(quota, _pod(cpu="2"), others) == (
        "exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=3, "
        "limited: requests.cpu=4"
    )
    assert quota_refusal(quota, _pod(cpu="1"), others) is None


def test_a_quota_on_cpu_needs_every_container_to_state_it() -> None:
    quota = {"metadata": {"name": "compute"}, "spec": {"hard": {"limits.cpu": "4"}}}
    assert quota_refusal(quota, _pod(cpu="1"), []) == (
        "failed quota: compute: must specify limits.cpu for: main"
    )


def test_admission_refuses_a_pod_whose_service_account_is_missing() -> None:
    store = KubeStore()
    store.admission.append(Admission().admit)
    store.objects[("namespaces", "", "ns")] = {"metadata": {"name": "ns"}}
    pod = _pod("x")
    pod["spec"]["serviceAccountName"] = "runner"
    with pytest.raises(ApiError) as refused:
        store.create("pods", "ns", pod)
    assert refused.value.code == 403
    assert refused.value.message == (
        'pods "x" is forbidden: error looking up service account ns/runner: '
        'serviceaccount "runner" not found'
    )
