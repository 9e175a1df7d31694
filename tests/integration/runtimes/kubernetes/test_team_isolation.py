"""A team namespace the runtime makes on first use comes with its NetworkPolicy."""

from __future__ import annotations

import pytest

from sapwood.manifests.network_policy import TEAM_POLICY
from sapwood.server.runtimes.base import UnitKey
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import spec

pytestmark = pytest.mark.anyio


async def test_a_new_team_namespace_is_isolated_from_other_teams(
    double: KubeApiDouble, runtime: KubernetesRuntime
) -> None:
    await runtime.start(spec(UnitKey("Job", "vision", "train")))

    policy = double.store.get("networkpolicies", "sapwood-vision", TEAM_POLICY)

    assert policy["spec"]["podSelector"] == {}  # every pod of the team
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    sources = ingress["from"]
    assert {"podSelector": {}} in sources  # its own namespace
    assert all("namespaceSelector" not in s or "podSelector" in s for s in sources)
    namespaces = [
        s["namespaceSelector"]["matchLabels"] for s in sources if "namespaceSelector" in s
    ]
    assert namespaces == [{"kubernetes.io/metadata.name": "sapwood"}]  # the server's pods only
