"""The Sapwood server on Kubernetes: its Deployment, its Service and an optional Ingress."""

from __future__ import annotations

from collections.abc import Mapping

from sapwood.manifests.install_stores import (
    DATABASE_SECRET,
    REDIS_SECRET,
    URL_KEY,
    hardened,
    secret_env,
)
from sapwood.manifests.names import Manifest, metadata

SERVER_NAME = "sapwood"
SERVER_PORT = 8420
HOME = "/var/lib/sapwood"


def server_deployment(
    labels: Mapping[str, str],
    namespace: str,
    *,
    image: str,
    replicas: int,
    service_account: str,
) -> Manifest:
    """The API and controllers, ``replicas`` of them; state lives in the database, so the
    root filesystem is read-only and only ``SAPWOOD_HOME`` and ``/tmp`` are scratch space."""
    pod_security, container_security = hardened(10001)
    http = {"port": "http"}
    container = {
        "name": "server",
        "image": image,
        "command": ["sapwood", "server"],
        "ports": [{"name": "http", "containerPort": SERVER_PORT}],
        "env": [
            {"name": "SAPWOOD_HOST", "value": "0.0.0.0"},
            {"name": "SAPWOOD_PORT", "value": str(SERVER_PORT)},
            {"name": "SAPWOOD_HOME", "value": HOME},
            {"name": "SAPWOOD_CONFIG", "value": f"{HOME}/client.yaml"},
            {"name": "SAPWOOD_RUNTIME", "value": "kubernetes"},
            # Where workloads in team namespaces reach the API: this install's Service.
            {
                "name": "SAPWOOD_KUBE_API_URL",
                "value": f"http://{SERVER_NAME}.{namespace}.svc.cluster.local",
            },
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
        "volumeMounts": [
            {"name": "home", "mountPath": HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(SERVER_NAME, labels, namespace=namespace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": service_account,
                    "securityContext": pod_security,
                    "containers": [container],
                    "volumes": [
                        {"name": "home", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def server_service(labels: Mapping[str, str], namespace: str) -> Manifest:
    """Port 80 to the server's port; workloads reach the API at ``http://sapwood.<ns>.svc``."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(SERVER_NAME, labels, namespace=namespace),
        "spec": {
            "selector": dict(labels),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def server_ingress(
    labels: Mapping[str, str],
    namespace: str,
    *,
    host: str,
    tls_secret: str | None,
    ingress_class: str | None,
) -> Manifest:
    """The API and dashboard at ``host``; TLS from ``tls_secret`` when given."""
    backend = {"service": {"name": SERVER_NAME, "port": {"name": "http"}}}
    spec: Manifest = {}
    if ingress_class is not None:
        spec["ingressClassName"] = ingress_class
    if tls_secret is not None:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    spec["rules"] = [
        {
            "host": host,
            "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
        }
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(SERVER_NAME, labels, namespace=namespace),
        "spec": spec,
    }
