"""`sapwood install kubernetes`: state that survives restarts, the gateway exposed, the pods
spread and protected, and the network isolation between teams and the stores."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sapwood.manifests import Manifest
from sapwood.manifests.install import InstallOptions, render_install
from sapwood.manifests.install_secrets import generate_secrets, seeded_bytes
from tests.unit.manifests.cases import env_of, main_container


def install(**options: Any) -> list[Manifest]:
    return render_install(InstallOptions(**options), randbytes=seeded_bytes(5))


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def server_of(manifests: list[Manifest]) -> Manifest:
    return named(manifests, "Deployment", "sapwood")


def mounts(workload: Manifest) -> dict[str, tuple[str, Manifest]]:
    """mount path -> (volume name, volume source) of the main container."""
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    return {
        m["mountPath"]: (m["name"], volumes[m["name"]])
        for m in main_container(workload)["volumeMounts"]
    }


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions with In) applied to ``labels``."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def pod_labels(workload: Manifest) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_server_key_comes_from_a_secret_mounted_read_only() -> None:
    manifests = install()
    server = server_of(manifests)
    env = env_of(main_container(server))
    key_file = env["SAPWOOD_SECRET_KEY_FILE"]
    directory, _, file_name = key_file.rpartition("/")
    name, source = mounts(server)[directory]
    assert "emptyDir" not in source
    secret_name = source["secret"]["secretName"]
    mount = next(m for m in main_container(server)["volumeMounts"] if m["name"] == name)
    assert mount["readOnly"] is True
    key = named(manifests, "Secret", secret_name)["stringData"][file_name]
    assert len(bytes.fromhex(key)) == 32
    assert key == generate_secrets(seeded_bytes(5)).server_key
    assert key not in json.dumps([m for m in manifests if m["kind"] != "Secret"])
    assert key != generate_secrets(seeded_bytes(6)).server_key


def test_models_live_on_a_read_write_many_claim_not_on_the_pods_scratch() -> None:
    manifests = install(storage_class="fast")
    server = server_of(manifests)
    models = env_of(main_container(server))["SAPWOOD_MODEL_STORE"]
    _, source = mounts(server)[models]
    claim = named(manifests, "PersistentVolumeClaim", source["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "fast"
    # What stays on emptyDir is scratch: neither the key nor the models are under it.
    scratch = [path for path, (_, src) in mounts(server).items() if "emptyDir" in src]
    key_file = env_of(main_container(server))["SAPWOOD_SECRET_KEY_FILE"]
    for path in scratch:
        assert not models.startswith(path + "/")
        assert not key_file.startswith(path + "/")


def test_models_in_an_object_store_need_no_claim() -> None:
    manifests = install(models_url="s3://bucket/models")
    server = server_of(manifests)
    assert env_of(main_container(server))["SAPWOOD_MODEL_STORE"] == "s3://bucket/models"
    assert all(m["kind"] != "PersistentVolumeClaim" for m in manifests)


def test_a_read_write_once_models_claim_is_for_one_replica_only() -> None:
    with pytest.raises(ValueError, match="needs --server-replicas 1"):
        InstallOptions(models_access_mode="ReadWriteOnce")
    manifests = install(models_access_mode="ReadWriteOnce", server_replicas=1)
    claim = named(manifests, "PersistentVolumeClaim", "sapwood-models")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_gateway_listens_on_the_pod_and_has_a_service_and_an_ingress_host() -> None:
    manifests = install(
        ingress_host="sapwood.example.com",
        gateway_host="services.example.com",
        tls_secret="wildcard-tls",
    )
    server = server_of(manifests)
    container = main_container(server)
    env = env_of(container)
    assert env["SAPWOOD_GATEWAY_HOST"] == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["gateway"] == int(env["SAPWOOD_GATEWAY_PORT"])
    service = named(manifests, "Service", "sapwood-gateway")
    assert service["spec"]["ports"][0]["targetPort"] == "gateway"
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(server))
    ingress = next(m for m in manifests if m["kind"] == "Ingress")
    backends = {
        rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
    }
    assert backends == {"sapwood.example.com": "sapwood", "services.example.com": "sapwood-gateway"}
    assert ingress["spec"]["tls"] == [
        {"hosts": ["sapwood.example.com", "services.example.com"], "secretName": "wildcard-tls"}
    ]


def test_the_gateway_service_is_rendered_without_an_ingress() -> None:
    manifests = install()
    assert named(manifests, "Service", "sapwood-gateway")
    assert all(m["kind"] != "Ingress" for m in manifests)


def test_replicas_spread_over_nodes_and_a_disruption_budget_keeps_one() -> None:
    manifests = install()
    server = server_of(manifests)
    affinity = server["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert selects(term["podAffinityTerm"]["labelSelector"], pod_labels(server))
    budget = named(manifests, "PodDisruptionBudget", "sapwood")
    assert budget["spec"]["minAvailable"] == 1
    assert selects(budget["spec"]["selector"], pod_labels(server))
    # One replica: a budget of one would block every drain of its node.
    single = install(server_replicas=1)
    assert all(m["kind"] != "PodDisruptionBudget" for m in single)


def test_the_cluster_domain_is_used_everywhere() -> None:
    manifests = install(cluster_domain="corp.internal", namespace="platform")
    text = json.dumps(manifests)
    assert "cluster.local" not in text
    env = env_of(main_container(server_of(manifests)))
    assert env["SAPWOOD_KUBE_API_URL"] == "http://sapwood.platform.svc.corp.internal"
    assert env["SAPWOOD_KUBE_CLUSTER_DOMAIN"] == "corp.internal"
    assert "cluster.local" in json.dumps(install())  # the default


def test_only_the_server_reaches_the_stores() -> None:
    manifests = install()
    policy = named(manifests, "NetworkPolicy", "sapwood-stores")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    postgres = named(manifests, "StatefulSet", "sapwood-postgres")
    redis = named(manifests, "StatefulSet", "sapwood-redis")
    server = server_of(manifests)
    selector = policy["spec"]["podSelector"]
    assert selects(selector, pod_labels(postgres))
    assert selects(selector, pod_labels(redis))
    assert not selects(selector, pod_labels(server))
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}  # this namespace only
    assert selects(peer["podSelector"], pod_labels(server))
    assert not selects(peer["podSelector"], pod_labels(postgres))


def test_a_teams_units_take_connections_from_their_team_and_the_server_only() -> None:
    manifests = install(namespace="platform")
    policy = named(manifests, "NetworkPolicy", "sapwood-team-isolation")
    assert policy["metadata"]["namespace"] == "sapwood-default"
    spec = policy["spec"]
    assert spec["podSelector"] == {}  # every pod of the team
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = spec["ingress"]
    own, server_peer = rule["from"]
    assert own == {"podSelector": {}}
    assert server_peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "platform"}
    }
    server = server_of(manifests)
    assert selects(server_peer["podSelector"], pod_labels(server))
    postgres = named(manifests, "StatefulSet", "sapwood-postgres")
    assert not selects(server_peer["podSelector"], pod_labels(postgres))
    # Egress: the server's API and gateway ports, DNS, and no cloud metadata service.
    ports = {p["containerPort"] for p in main_container(server)["ports"]}
    to_server = next(r for r in spec["egress"] if r.get("to") == [server_peer])
    assert {p["port"] for p in to_server["ports"]} == ports
    assert any({p["port"] for p in r.get("ports", [])} == {53} for r in spec["egress"])
    outside = next(r for r in spec["egress"] if "ipBlock" in r.get("to", [{}])[0])
    assert outside["to"][0]["ipBlock"]["except"] == ["169.254.169.254/32"]


def test_redis_keeps_the_feed_queues_on_a_claim() -> None:
    manifests = install()
    redis = named(manifests, "StatefulSet", "sapwood-redis")
    assert "--appendonly yes" in main_container(redis)["command"][-1]
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    mount = {m["name"]: m["mountPath"] for m in main_container(redis)["volumeMounts"]}
    assert mount["data"] == "/data"
    assert all(
        m["metadata"]["name"] != "sapwood-redis" for m in manifests if m["kind"] == "Deployment"
    )
