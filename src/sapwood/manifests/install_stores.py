"""The stores beside the server: Redis always; PostgreSQL bundled, or a Secret holding the
URL of an external one. Both keep their data on claims. Passwords come in from
``InstallSecrets``; none is a default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sapwood.manifests.names import Manifest, metadata
from sapwood.specs.quantity import format_memory

DATABASE_SECRET = "sapwood-database"
REDIS_SECRET = "sapwood-redis"
POSTGRES_SECRET = "sapwood-postgres"
POSTGRES_SERVICE = "sapwood-postgres"
REDIS_SERVICE = "sapwood-redis"
URL_KEY = "url"
PASSWORD_KEY = "password"
_DB = "sapwood"


def secret(
    name: str, labels: Mapping[str, str], namespace: str, data: Mapping[str, str]
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, labels, namespace=namespace),
        "type": "Opaque",
        "stringData": dict(data),
    }


def secret_env(name: str, secret_name: str, key: str) -> Manifest:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def hardened(user: int) -> tuple[Manifest, Manifest]:
    """Pod and container securityContext: non-root ``user``, read-only root, no privileges."""
    pod = {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": user,
        "fsGroup": user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return pod, container


def service(
    name: str, labels: Mapping[str, str], namespace: str, port: int, **spec: Any
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, labels, namespace=namespace),
        "spec": {
            "selector": dict(labels),
            "ports": [{"name": "main", "port": port, "targetPort": "main", "protocol": "TCP"}],
            **spec,
        },
    }


def external_database(labels: Mapping[str, str], namespace: str, url: str) -> list[Manifest]:
    """Only the Secret with the external database's URL (which the user gave us)."""
    return [secret(DATABASE_SECRET, labels, namespace, {URL_KEY: url})]


def bundled_postgres(
    labels: Mapping[str, str],
    namespace: str,
    *,
    password: str,
    image: str,
    storage_bytes: int,
    storage_class: str | None,
) -> list[Manifest]:
    """PostgreSQL as a one-replica StatefulSet with a PVC, its Service, its password and
    the database URL Secret the server reads."""
    url = f"postgresql://{_DB}:{password}@{POSTGRES_SERVICE}:5432/{_DB}"
    pod_security, container_security = hardened(70)  # the postgres user of the alpine image
    claim = _claim(storage_bytes, storage_class)
    ready = {"exec": {"command": ["pg_isready", "-U", _DB, "-d", _DB]}, "periodSeconds": 5}
    container = {
        "name": "postgres",
        "image": image,
        "ports": [{"name": "main", "containerPort": 5432}],
        "env": [
            {"name": "POSTGRES_USER", "value": _DB},
            {"name": "POSTGRES_DB", "value": _DB},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
            secret_env("POSTGRES_PASSWORD", POSTGRES_SECRET, PASSWORD_KEY),
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"memory": "1Gi"},
        },
        "readinessProbe": ready,
        "livenessProbe": {**ready, "periodSeconds": 20, "failureThreshold": 6},
        "securityContext": container_security,
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return [
        secret(POSTGRES_SECRET, labels, namespace, {PASSWORD_KEY: password}),
        secret(DATABASE_SECRET, labels, namespace, {URL_KEY: url}),
        service(POSTGRES_SERVICE, labels, namespace, 5432),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": metadata(POSTGRES_SERVICE, labels, namespace=namespace),
            "spec": {
                "replicas": 1,
                "serviceName": POSTGRES_SERVICE,
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "securityContext": pod_security,
                        "automountServiceAccountToken": False,
                        "containers": [container],
                        "volumes": [
                            {"name": "run", "emptyDir": {}},
                            {"name": "tmp", "emptyDir": {}},
                        ],
                    },
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
            },
        },
    ]


def _claim(storage_bytes: int, storage_class: str | None) -> Manifest:
    claim: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": format_memory(storage_bytes)}},
    }
    if storage_class is not None:
        claim["storageClassName"] = storage_class
    return claim


def redis(
    labels: Mapping[str, str],
    namespace: str,
    *,
    password: str,
    image: str,
    storage_bytes: int,
    storage_class: str | None,
) -> list[Manifest]:
    """Redis as a one-replica StatefulSet with a claim, its Service, and a Secret with its
    password and the URL the server reads.

    It holds the feeds' queues (a stream per feed: records not yet processed), so it is
    persistent: an append-only file, synced every second, on the claim."""
    url = f"redis://:{password}@{REDIS_SERVICE}:6379/0"
    pod_security, container_security = hardened(999)  # the redis user of the image
    server = 'exec redis-server --appendonly yes --appendfsync everysec --save ""'
    container = {
        "name": "redis",
        "image": image,
        "command": ["/bin/sh", "-c", f'{server} --requirepass "$REDIS_PASSWORD"'],
        "ports": [{"name": "main", "containerPort": 6379}],
        "env": [secret_env("REDIS_PASSWORD", REDIS_SECRET, PASSWORD_KEY)],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "readinessProbe": {"tcpSocket": {"port": "main"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "main"}, "periodSeconds": 20},
        "securityContext": container_security,
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    return [
        secret(REDIS_SECRET, labels, namespace, {PASSWORD_KEY: password, URL_KEY: url}),
        service(REDIS_SERVICE, labels, namespace, 6379),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": metadata(REDIS_SERVICE, labels, namespace=namespace),
            "spec": {
                "replicas": 1,
                "serviceName": REDIS_SERVICE,
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "securityContext": pod_security,
                        "automountServiceAccountToken": False,
                        "containers": [container],
                    },
                },
                "volumeClaimTemplates": [
                    {"metadata": {"name": "data"}, "spec": _claim(storage_bytes, storage_class)}
                ],
            },
        },
    ]
