"""`sapwood install kubernetes`: secrets, least privilege, variants, the checked-in copy."""

from __future__ import annotations

import json

import pytest

from sapwood.manifests import Manifest
from sapwood.manifests.install import (
    InstallOptions,
    render_install,
    render_install_yaml,
    seeded_header,
)
from sapwood.manifests.install_secrets import generate_secrets, seeded_bytes, token_urlsafe
from tests.unit.manifests.cases import ROOT, env_of, main_container

RENDERED = ROOT / "deploy" / "kubernetes" / "sapwood.yaml"
WEAK = {"", "postgres", "password", "sapwood", "changeme", "admin", "secret", "redis"}


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def secret_values(manifests: list[Manifest]) -> dict[str, str]:
    return {
        f"{m['metadata']['name']}/{k}": v
        for m in manifests
        if m["kind"] == "Secret"
        for k, v in m["stringData"].items()
    }


def test_the_checked_in_copy_matches_the_generator() -> None:
    expected = render_install_yaml(randbytes=seeded_bytes(0), header=seeded_header(0))
    assert RENDERED.read_text() == expected, (
        "deploy/kubernetes/sapwood.yaml is stale: regenerate it with the command in its header"
    )


def test_passwords_are_random_long_and_differ_between_seeds() -> None:
    a, b = generate_secrets(seeded_bytes(1)), generate_secrets(seeded_bytes(2))
    assert generate_secrets(seeded_bytes(1)) == a
    for password in (a.postgres_password, a.redis_password, b.postgres_password):
        assert len(password) >= 43
        assert password.lower() not in WEAK
    assert a.postgres_password != a.redis_password
    assert {a.postgres_password, a.redis_password}.isdisjoint(
        {b.postgres_password, b.redis_password}
    )


def test_token_urlsafe_matches_the_standard_library_format() -> None:
    token = token_urlsafe(lambda n: bytes(range(n)), 32)
    assert len(token) == 43
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_default_source_is_fresh_randomness() -> None:
    assert generate_secrets() != generate_secrets()
    assert render_install() != render_install()


def test_secrets_live_only_in_secrets_and_reach_pods_by_reference() -> None:
    manifests = render_install(randbytes=seeded_bytes(3))
    values = secret_values(manifests)
    assert set(values) >= {"sapwood-postgres/password", "sapwood-database/url", "sapwood-redis/url"}
    others = json.dumps([m for m in manifests if m["kind"] != "Secret"])
    generated = generate_secrets(seeded_bytes(3))
    for password in (generated.postgres_password, generated.redis_password):
        assert password not in others
    env = env_of(main_container(named(manifests, "Deployment", "sapwood")))
    assert env["SAPWOOD_DATABASE_URL"] == {
        "secretKeyRef": {"name": "sapwood-database", "key": "url"}
    }
    assert env["SAPWOOD_REDIS_URL"] == {"secretKeyRef": {"name": "sapwood-redis", "key": "url"}}
    assert generated.postgres_password in values["sapwood-database/url"]


def test_the_server_runs_two_hardened_replicas_with_health_probes() -> None:
    deployment = named(render_install(randbytes=seeded_bytes(0)), "Deployment", "sapwood")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sapwood"
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = main_container(deployment)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]


def test_each_server_replica_advertises_its_pod_address_for_the_leader() -> None:
    deployment = named(render_install(randbytes=seeded_bytes(0)), "Deployment", "sapwood")
    env = env_of(main_container(deployment))
    assert env["SAPWOOD_ADVERTISE_ADDRESS"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["SAPWOOD_GATEWAY_HOST"] == "0.0.0.0"  # so another pod reaches its gateway


def test_bundled_postgres_is_a_stateful_set_with_a_claim() -> None:
    manifests = render_install(randbytes=seeded_bytes(0))
    sts = named(manifests, "StatefulSet", "sapwood-postgres")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {
        "storage": "10Gi"
    }
    url = secret_values(manifests)["sapwood-database/url"]
    assert url.startswith("postgresql://sapwood:")
    assert url.endswith("@sapwood-postgres:5432/sapwood")


def test_an_external_database_is_only_a_secret_with_its_url() -> None:
    url = "postgresql://app:s3cret@db.internal:5432/sapwood"
    manifests = render_install(InstallOptions(database_url=url), randbytes=seeded_bytes(0))
    assert secret_values(manifests)["sapwood-database/url"] == url
    assert not any("postgres" in m["metadata"]["name"] for m in manifests)
    assert "s3cret" not in json.dumps([m for m in manifests if m["kind"] != "Secret"])


def test_ingress_only_when_asked_with_tls_when_given() -> None:
    assert all(m["kind"] != "Ingress" for m in render_install(randbytes=seeded_bytes(0)))
    options = InstallOptions(ingress_host="sapwood.example.com", tls_secret="sapwood-tls")
    ingress = next(
        m for m in render_install(options, randbytes=seeded_bytes(0)) if m["kind"] == "Ingress"
    )
    assert ingress["spec"]["tls"] == [
        {"hosts": ["sapwood.example.com"], "secretName": "sapwood-tls"}
    ]
    assert ingress["spec"]["rules"][0]["host"] == "sapwood.example.com"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tls_secret": "t"}, "--tls-secret needs --ingress-host"),
        ({"database_url": "mysql://x"}, "postgresql"),
        ({"namespace": "Not_A_Name"}, "--namespace"),
    ],
)
def test_impossible_options_are_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InstallOptions(**options)  # type: ignore[arg-type]


def test_rbac_is_least_privilege() -> None:
    manifests = render_install(randbytes=seeded_bytes(0))
    roles = [m for m in manifests if m["kind"] in ("ClusterRole", "Role")]
    assert {r["metadata"]["name"] for r in roles} == {"sapwood-cluster", "sapwood-workloads"}
    for role in roles:
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups", "resourceNames"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)
    cluster = named(manifests, "ClusterRole", "sapwood-cluster")
    cluster_resources = {r for rule in cluster["rules"] for r in rule["resources"]}
    # Pods, secrets and workloads are granted per team namespace, never cluster-wide.
    assert cluster_resources.isdisjoint({"secrets", "pods", "jobs", "deployments"})
    bind = next(rule for rule in cluster["rules"] if rule["verbs"] == ["bind"])
    assert bind["resourceNames"] == ["sapwood-workloads"]
    workloads = named(manifests, "ClusterRole", "sapwood-workloads")
    secrets_rule = next(rule for rule in workloads["rules"] if rule["resources"] == ["secrets"])
    assert not {"list", "watch"} & set(secrets_rule["verbs"])
    bindings = [m for m in manifests if m["kind"] == "ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in bindings] == ["sapwood-cluster"]


def test_the_default_teams_namespace_is_ready_and_bound() -> None:
    options = InstallOptions(namespace="platform")
    manifests = render_install(options, randbytes=seeded_bytes(0))
    binding = named(manifests, "RoleBinding", "sapwood")
    assert binding["metadata"]["namespace"] == "sapwood-default"
    assert binding["subjects"][0]["namespace"] == "platform"
    server = named(manifests, "Deployment", "sapwood")
    assert server["metadata"]["namespace"] == "platform"
    assert {m["kind"] for m in manifests} >= {"PriorityClass", "Namespace", "ServiceAccount"}
