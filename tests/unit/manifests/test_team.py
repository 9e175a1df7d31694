"""A team's namespace and access, and the cluster's PriorityClasses."""

from __future__ import annotations

from sapwood.manifests import (
    DEFAULT_PRIORITIES,
    RenderOptions,
    render_priority_classes,
    render_team,
)
from sapwood.server.settings import DEFAULT_PRIORITIES as SERVER_PRIORITIES


def test_a_team_gets_its_namespace_and_the_server_bound_there_only() -> None:
    namespace, binding, policy = render_team("research")
    assert policy["kind"] == "NetworkPolicy"
    assert policy["metadata"]["namespace"] == "sapwood-research"
    assert namespace["kind"] == "Namespace"
    assert namespace["metadata"]["name"] == "sapwood-research"
    assert namespace["metadata"]["labels"]["sapwood.dev/team"] == "research"
    assert binding["kind"] == "RoleBinding"  # namespaced: no cluster-wide workload rights
    assert binding["metadata"]["namespace"] == "sapwood-research"
    assert binding["roleRef"]["name"] == "sapwood-workloads"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sapwood", "namespace": "sapwood"}
    ]


def test_team_namespace_follows_the_prefix_or_an_explicit_name() -> None:
    (ns, _, _) = render_team("a", options=RenderOptions(namespace_prefix="ml-"))
    assert ns["metadata"]["name"] == "ml-a"
    (ns, binding, policy) = render_team("a", namespace="lab")
    assert ns["metadata"]["name"] == binding["metadata"]["namespace"] == "lab"
    assert policy["metadata"]["namespace"] == "lab"


def test_priority_classes_mirror_the_configured_priorities_and_never_preempt() -> None:
    classes = render_priority_classes()
    assert {c["metadata"]["name"]: c["value"] for c in classes} == {
        f"sapwood-{name}": value for name, value in DEFAULT_PRIORITIES.items()
    }
    assert [c["value"] for c in classes] == sorted(DEFAULT_PRIORITIES.values(), reverse=True)
    assert all(c["preemptionPolicy"] == "Never" and not c["globalDefault"] for c in classes)
    custom = render_priority_classes(
        {"urgent": 5}, options=RenderOptions(priority_class_prefix="p-")
    )
    assert [(c["metadata"]["name"], c["value"]) for c in custom] == [("p-urgent", 5)]


def test_the_default_priorities_match_the_servers() -> None:
    # The package may not import the server; this test does, to keep the two in step.
    assert dict(DEFAULT_PRIORITIES) == SERVER_PRIORITIES
