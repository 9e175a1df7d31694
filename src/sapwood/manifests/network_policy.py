"""NetworkPolicies: who may open a connection to whom.

Isolation is enforced where traffic arrives, which every NetworkPolicy implementation
reads the same way: a team's units take connections only from their own team and from
the Sapwood server's pods (the gateway runs there), and PostgreSQL and Redis only from
the server's pods. Units' egress is open but for the cloud metadata address (workloads
download data and packages); what that leaves reachable is listed in docs/kubernetes.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from sapwood.manifests.names import MANAGED_BY, TEAM_LABEL, Manifest, metadata, namespace_for
from sapwood.manifests.options import DEFAULT_OPTIONS, RenderOptions

TEAM_POLICY = "sapwood-team-isolation"
STORES_POLICY = "sapwood-stores"
# What the install labels its server pods with (a subset of their labels).
SERVER_POD_SELECTOR: Mapping[str, str] = {
    "app.kubernetes.io/name": "sapwood",
    "app.kubernetes.io/component": "server",
}
STORE_COMPONENTS = ("database", "redis")
API_PORT = 8420
GATEWAY_PORT = 8421
# The link-local address clouds serve node credentials at (AWS, GCP, Azure, OpenStack).
METADATA_CIDR = "169.254.169.254/32"
_NAMESPACE_NAME = "kubernetes.io/metadata.name"  # set on every namespace since 1.21


def _server_pods(server_namespace: str) -> Manifest:
    return {
        "namespaceSelector": {"matchLabels": {_NAMESPACE_NAME: server_namespace}},
        "podSelector": {"matchLabels": dict(SERVER_POD_SELECTOR)},
    }


def render_team_network_policy(
    team: str, *, namespace: str | None = None, options: RenderOptions = DEFAULT_OPTIONS
) -> Manifest:
    """The team namespace's policy: every pod there takes connections only from its own
    namespace and the server's pods; it reaches its own namespace, the server's API and
    gateway ports, DNS, and addresses outside the cluster but the metadata service."""
    name = namespace or namespace_for(team, options=options)
    labels = {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/name": "sapwood",
        TEAM_LABEL: team,
    }
    own: Manifest = {"podSelector": {}}
    server = _server_pods(options.server_namespace)
    tcp = [{"protocol": "TCP", "port": port} for port in (API_PORT, GATEWAY_PORT)]
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    outside = [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": [METADATA_CIDR]}},
        {"ipBlock": {"cidr": "::/0"}},
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(TEAM_POLICY, labels, namespace=name),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [own, server]}],
            "egress": [
                {"to": [own]},
                {"to": [server], "ports": tcp},
                # Wherever the cluster serves DNS (CoreDNS pods, or a node-local cache).
                {"ports": dns},
                {"to": outside},
            ],
        },
    }


def render_stores_network_policy(labels: Mapping[str, str], namespace: str) -> Manifest:
    """PostgreSQL and Redis in the install's namespace take connections from the server's
    pods only: never from units, other namespaces or the rest of the cluster."""
    store_pods = {
        "matchLabels": {"app.kubernetes.io/name": "sapwood"},
        "matchExpressions": [
            {
                "key": "app.kubernetes.io/component",
                "operator": "In",
                "values": list(STORE_COMPONENTS),
            }
        ],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(STORES_POLICY, labels, namespace=namespace),
        "spec": {
            "podSelector": store_pods,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": dict(SERVER_POD_SELECTOR)}}]}],
        },
    }
