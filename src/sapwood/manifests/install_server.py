"""The Sapwood server on Kubernetes: its Deployment, the Services of its API and gateway,
an optional Ingress, and the PodDisruptionBudget that keeps one replica up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sapwood.manifests.install_stores import (
    DATABASE_SECRET,
    REDIS_SECRET,
    URL_KEY,
    hardened,
    secret_env,
)
from sapwood.manifests.names import Manifest, metadata
from sapwood.manifests.network_policy import API_PORT, GATEWAY_PORT
from sapwood.specs.quantity import format_memory

SERVER_NAME = "sapwood"
GATEWAY_NAME = "sapwood-gateway"
SERVER_PORT = API_PORT
HOME = "/var/lib/sapwood"
KEY_SECRET = "sapwood-server-key"
KEY_FILE_NAME = "secret.key"
KEY_DIR = "/etc/sapwood/server-key"
MODELS_CLAIM = "sapwood-models"
MODELS_DIR = "/var/lib/sapwood-models"
HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class ServerPlacement:
    """Where the server's state lives and how its replicas are spread.

    ``models_url``: the registry in an object store (fsspec URL); None: the claim
    ``sapwood-models`` mounted at ``MODELS_DIR``. ``cluster_domain`` ends in-cluster names.
    """

    replicas: int
    service_account: str
    cluster_domain: str = "cluster.local"
    models_url: str | None = None


def server_deployment(
    labels: Mapping[str, str],
    namespace: str,
    *,
    image: str,
    placement: ServerPlacement,
) -> Manifest:
    """The API, controllers and gateway, ``placement.replicas`` of them, spread over nodes.

    What must survive a restart lives outside the pod: rows in the database, the key
    workload tokens derive from in the Secret ``sapwood-server-key`` (read-only), models
    in the object store or the ``sapwood-models`` claim. ``SAPWOOD_HOME`` and ``/tmp`` are
    scratch space (upload staging, the bootstrap's client config), and the root
    filesystem is read-only."""
    pod_security, container_security = hardened(10001)
    http = {"port": "http"}
    domain = placement.cluster_domain
    models = placement.models_url or MODELS_DIR
    mounts: list[Manifest] = [
        {"name": "home", "mountPath": HOME},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "server-key", "mountPath": KEY_DIR, "readOnly": True},
    ]
    container = {
        "name": "server",
        "image": image,
        "command": ["sapwood", "server"],
        "ports": [
            {"name": "http", "containerPort": SERVER_PORT},
            {"name": "gateway", "containerPort": GATEWAY_PORT},
        ],
        "env": [
            {"name": "SAPWOOD_HOST", "value": "0.0.0.0"},
            {"name": "SAPWOOD_PORT", "value": str(SERVER_PORT)},
            # The gateway's Service reaches it on the pod's address; it checks tokens itself.
            {"name": "SAPWOOD_GATEWAY_HOST", "value": "0.0.0.0"},
            {"name": "SAPWOOD_GATEWAY_PORT", "value": str(GATEWAY_PORT)},
            # The leader's autoscaler reads every replica's gateway at its pod's address.
            {
                "name": "SAPWOOD_ADVERTISE_ADDRESS",
                "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
            },
            {"name": "SAPWOOD_HOME", "value": HOME},
            {"name": "SAPWOOD_SECRET_KEY_FILE", "value": f"{KEY_DIR}/{KEY_FILE_NAME}"},
            {"name": "SAPWOOD_MODEL_STORE", "value": models},
            {"name": "SAPWOOD_CONFIG", "value": f"{HOME}/client.yaml"},
            {"name": "SAPWOOD_RUNTIME", "value": "kubernetes"},
            # Where workloads in team namespaces reach the API: this install's Service.
            {
                "name": "SAPWOOD_KUBE_API_URL",
                "value": f"http://{SERVER_NAME}.{namespace}.svc.{domain}",
            },
            {"name": "SAPWOOD_KUBE_CLUSTER_DOMAIN", "value": domain},
            # Model servers and feed workers run this same image, so the same version.
            {"name": "SAPWOOD_KUBE_SERVER_IMAGE", "value": image},
            # Two replicas share the database: only the lease holder runs the controller.
            {"name": "SAPWOOD_LEADER_ELECTION", "value": "1"},
            secret_env("SAPWOOD_DATABASE_URL", DATABASE_SECRET, URL_KEY),
            secret_env("SAPWOOD_REDIS_URL", REDIS_SECRET, URL_KEY),
        ],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", **http}, "periodSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", **http},
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "securityContext": container_security,
        "volumeMounts": mounts,
    }
    volumes: list[Manifest] = [
        {"name": "home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
        {
            "name": "server-key",
            # Owned by root, readable by the pod's fsGroup (the server's group) only.
            "secret": {"secretName": KEY_SECRET, "defaultMode": 0o440},
        },
    ]
    if placement.models_url is None:
        mounts.append({"name": "models", "mountPath": MODELS_DIR})
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": MODELS_CLAIM}})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(SERVER_NAME, labels, namespace=namespace),
        "spec": {
            "replicas": placement.replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": placement.service_account,
                    "securityContext": pod_security,
                    "affinity": _apart(labels),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def _apart(labels: Mapping[str, str]) -> Manifest:
    """Replicas on different nodes where the cluster has them: one node's loss leaves the
    other serving. Preferred, not required, so a one-node cluster still runs them all."""
    term = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": HOSTNAME}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": term}
            ]
        }
    }


def server_disruption_budget(labels: Mapping[str, str], namespace: str) -> Manifest:
    """Voluntary evictions (a drain, a node upgrade) leave at least one replica serving."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(SERVER_NAME, labels, namespace=namespace),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(labels)}},
    }


def models_claim(
    labels: Mapping[str, str],
    namespace: str,
    *,
    storage_bytes: int,
    storage_class: str | None,
    access_mode: str,
) -> Manifest:
    """The model registry's files. ``ReadWriteMany`` lets replicas on different nodes
    mount it at once; a ``ReadWriteOnce`` claim serves one node only, so one replica."""
    spec: Manifest = {
        "accessModes": [access_mode],
        "resources": {"requests": {"storage": format_memory(storage_bytes)}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(MODELS_CLAIM, labels, namespace=namespace),
        "spec": spec,
    }


def server_service(labels: Mapping[str, str], namespace: str) -> Manifest:
    """Port 80 to the server's port; workloads reach the API at ``http://sapwood.<ns>.svc``."""
    return _front(SERVER_NAME, labels, namespace, target="http")


def gateway_service(labels: Mapping[str, str], namespace: str) -> Manifest:
    """Port 80 to every replica's gateway: Sapwood Services at
    ``http://sapwood-gateway.<ns>.svc/s/TEAM/SERVICE/``, workspaces at ``/w/TEAM/NAME/``."""
    return _front(GATEWAY_NAME, labels, namespace, target="gateway")


def _front(name: str, labels: Mapping[str, str], namespace: str, *, target: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, labels, namespace=namespace),
        "spec": {
            "selector": dict(labels),
            "ports": [{"name": "http", "port": 80, "targetPort": target, "protocol": "TCP"}],
        },
    }


def server_ingress(
    labels: Mapping[str, str],
    namespace: str,
    *,
    host: str | None,
    gateway_host: str | None,
    tls_secret: str | None,
    ingress_class: str | None,
) -> Manifest:
    """The API and dashboard at ``host``, the gateway (Sapwood Services and workspaces) at
    ``gateway_host``; TLS for both from ``tls_secret`` when given. The gateway checks
    tokens itself, as behind its Service."""
    routes = [(host, SERVER_NAME), (gateway_host, GATEWAY_NAME)]
    hosts = [h for h, _ in routes if h is not None]
    spec: Manifest = {}
    if ingress_class is not None:
        spec["ingressClassName"] = ingress_class
    if tls_secret is not None:
        spec["tls"] = [{"hosts": hosts, "secretName": tls_secret}]
    spec["rules"] = [
        {
            "host": h,
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": service, "port": {"name": "http"}}},
                    }
                ]
            },
        }
        for h, service in routes
        if h is not None
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(SERVER_NAME, labels, namespace=namespace),
        "spec": spec,
    }
