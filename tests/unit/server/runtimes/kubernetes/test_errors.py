"""A 403 is a condition of the cluster to wait out and report, named by what refused."""

from __future__ import annotations

import pytest

from sapwood.server.runtimes.base import RuntimePermanentError, RuntimeTemporaryError
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, forbidden_cause, translate

FORBIDDEN = [
    (
        'pods "job-train-0-1" is forbidden: exceeded quota: compute, requested: '
        "requests.cpu=2, used: requests.cpu=3, limited: requests.cpu=4",
        "ResourceQuota",
    ),
    (
        'pods "p" is forbidden: failed quota: compute: must specify limits.cpu for: main',
        "ResourceQuota",
    ),
    (
        'pods "p" is forbidden: violates PodSecurity "restricted:latest": '
        'runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true)',
        "PodSecurity",
    ),
    (
        'pods "p" is forbidden: error looking up service account sapwood-research/default: '
        'serviceaccount "default" not found',
        "ServiceAccount",
    ),
    (
        'pods "p" is forbidden: unable to create new content in namespace sapwood-research '
        "because it is being terminated",
        "NamespaceTerminating",
    ),
    ('pods "p" is forbidden: no PriorityClass with name sapwood-high was found', "PriorityClass"),
    (
        'pods is forbidden: User "system:serviceaccount:sapwood:sapwood" cannot create '
        'resource "pods" in API group "" in the namespace "kube-system"',
        "RBAC",
    ),
    ("forbidden by a webhook", "Forbidden"),
]


@pytest.mark.parametrize(("message", "cause"), FORBIDDEN)
def test_each_forbidden_answer_is_temporary_and_keeps_the_servers_words(
    message: str, cause: str
) -> None:
    assert forbidden_cause(message) == cause
    error = translate(ApiStatusError(403, message, reason="Forbidden"), action="apply a pod")
    assert isinstance(error, RuntimeTemporaryError)
    assert str(error) == f"{cause}: kubernetes refused to apply a pod: {message}"


def test_an_invalid_object_stays_permanent() -> None:
    error = translate(ApiStatusError(422, "spec: Invalid", reason="Invalid"), action="apply a pod")
    assert isinstance(error, RuntimePermanentError)
    assert error.reason == "Invalid"
