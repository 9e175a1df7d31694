"""`sapwood install kubernetes`: the manifests of a whole Sapwood control plane.

Run as ``python -m sapwood.manifests.install --seed 0`` it prints the checked-in copy
``deploy/kubernetes/sapwood.yaml`` (whose passwords are public: never apply that copy).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sapwood.manifests.install_rbac import render_capacity_access, render_rbac
from sapwood.manifests.install_secrets import (
    SYSTEM_BYTES,
    RandomBytes,
    generate_secrets,
    seeded_bytes,
)
from sapwood.manifests.install_server import (
    KEY_FILE_NAME,
    KEY_SECRET,
    MODELS_CLAIM,
    MODELS_DIR,
    ServerPlacement,
    gateway_service,
    models_claim,
    server_deployment,
    server_disruption_budget,
    server_ingress,
    server_service,
)
from sapwood.manifests.install_stores import bundled_postgres, external_database, redis, secret
from sapwood.manifests.names import Manifest, metadata
from sapwood.manifests.network_policy import (
    render_stores_network_policy,
)
from sapwood.manifests.options import (
    DEFAULT_CLUSTER_DOMAIN,
    DEFAULT_PRIORITIES,
    DEFAULT_SERVER_IMAGE,
    RenderOptions,
)
from sapwood.manifests.render import dump_manifests
from sapwood.manifests.team import render_priority_classes, render_team
from sapwood.specs.base import check_name

ACCESS_MODES = ("ReadWriteMany", "ReadWriteOnce")
_DOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

DEFAULT_TEAM = "default"  # made by the server's bootstrap; its namespace is ready at once
REGENERATE = (
    ".venv/bin/python -m sapwood.manifests.install --seed 0 > deploy/kubernetes/sapwood.yaml"
)


@dataclass(frozen=True)
class InstallOptions:
    """One install's choices. Without ``database_url``, PostgreSQL is bundled."""

    namespace: str = "sapwood"
    image: str = DEFAULT_SERVER_IMAGE
    database_url: str | None = None
    ingress_host: str | None = None
    gateway_host: str | None = None
    tls_secret: str | None = None
    ingress_class: str | None = None
    server_replicas: int = 2
    postgres_image: str = "postgres:16-alpine"
    postgres_storage_bytes: int = 10 * 1024**3
    redis_image: str = "redis:7-alpine"
    redis_storage_bytes: int = 1024**3
    storage_class: str | None = None
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    # The model registry: an fsspec URL (s3://bucket/prefix), or else a claim of this size,
    # class (default: storage_class) and access mode.
    models_url: str | None = None
    models_storage_bytes: int = 20 * 1024**3
    models_storage_class: str | None = None
    models_access_mode: str = "ReadWriteMany"
    # Let the server list every Pod in the cluster (kube-system's included, read-only), so
    # capacity subtracts what other tenants and DaemonSets already requested.
    capacity_reads_all_pods: bool = False
    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))

    def __post_init__(self) -> None:
        try:
            check_name(self.namespace)
        except ValueError as exc:
            raise ValueError(f"--namespace: {exc}") from None
        if self.tls_secret is not None and self.ingress_host is None and not self.gateway_host:
            raise ValueError(
                "--tls-secret needs --ingress-host or --gateway-host: TLS is served by the Ingress"
            )
        if self.server_replicas < 1:
            raise ValueError(f"--server-replicas must be at least 1, got {self.server_replicas}")
        if not _DOMAIN.fullmatch(self.cluster_domain) or len(self.cluster_domain) > 253:
            raise ValueError(
                f"--cluster-domain {self.cluster_domain!r} is not a DNS domain "
                "(lower-case labels joined by dots, like cluster.local)"
            )
        if self.models_url is not None and "://" not in self.models_url:
            raise ValueError(
                f"--models-url must be an fsspec URL like s3://bucket/prefix, "
                f"got {self.models_url!r}"
            )
        if self.models_access_mode not in ACCESS_MODES:
            raise ValueError(
                f"--models-access-mode must be one of {', '.join(ACCESS_MODES)}, "
                f"got {self.models_access_mode!r}"
            )
        if (
            self.models_url is None
            and self.models_access_mode == "ReadWriteOnce"
            and self.server_replicas > 1
        ):
            raise ValueError(
                "--models-access-mode ReadWriteOnce needs --server-replicas 1: a ReadWriteOnce "
                "claim mounts on one node only, so a second replica elsewhere never starts; "
                "use ReadWriteMany (a class that offers it) or --models-url"
            )
        if self.database_url is not None and not self.database_url.startswith("postgresql"):
            raise ValueError(
                f"--database-url must be a postgresql:// URL, got {self.database_url!r}"
            )

    @property
    def bundled_postgres(self) -> bool:
        return self.database_url is None

    def render_options(self) -> RenderOptions:
        """How workloads are rendered for this install (where the API is, who the server is)."""
        return RenderOptions(
            api_url=f"http://sapwood.{self.namespace}.svc.{self.cluster_domain}",
            server_namespace=self.namespace,
            storage_class=self.storage_class,
        )


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "sapwood",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "sapwood",
        "app.kubernetes.io/managed-by": "sapwood",
    }


def render_install(
    options: InstallOptions = InstallOptions(), *, randbytes: RandomBytes = SYSTEM_BYTES
) -> list[Manifest]:
    """Every manifest of an install, in the order ``kubectl apply`` needs them.

    Passwords are drawn from ``randbytes`` (fresh system randomness by default), so the
    output is deterministic for a seeded source and secret otherwise.
    """
    ns = options.namespace
    generated = generate_secrets(randbytes)
    render_options = options.render_options()
    out: list[Manifest] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(ns, _labels("server"))},
        *render_rbac(ns, _labels("rbac"), options=render_options),
        *(
            render_capacity_access(ns, _labels("rbac"), options=render_options)
            if options.capacity_reads_all_pods
            else []
        ),
        *render_priority_classes(options.priorities, options=render_options),
    ]
    database = _labels("database")
    if options.database_url is None:
        out += bundled_postgres(
            database,
            ns,
            password=generated.postgres_password,
            image=options.postgres_image,
            storage_bytes=options.postgres_storage_bytes,
            storage_class=options.storage_class,
        )
    else:
        out += external_database(database, ns, options.database_url)
    out += redis(
        _labels("redis"),
        ns,
        password=generated.redis_password,
        image=options.redis_image,
        storage_bytes=options.redis_storage_bytes,
        storage_class=options.storage_class,
    )
    out.append(render_stores_network_policy(_labels("network"), ns))
    server = _labels("server")
    out.append(secret(KEY_SECRET, server, ns, {KEY_FILE_NAME: generated.server_key}))
    if options.models_url is None:
        out.append(
            models_claim(
                _labels("models"),
                ns,
                storage_bytes=options.models_storage_bytes,
                storage_class=options.models_storage_class or options.storage_class,
                access_mode=options.models_access_mode,
            )
        )
    placement = ServerPlacement(
        replicas=options.server_replicas,
        service_account=render_options.server_service_account,
        cluster_domain=options.cluster_domain,
        models_url=options.models_url,
    )
    out += [
        server_deployment(server, ns, image=options.image, placement=placement),
        server_service(server, ns),
        gateway_service(server, ns),
    ]
    if options.server_replicas > 1:
        out.append(server_disruption_budget(server, ns))
    if options.ingress_host is not None or options.gateway_host is not None:
        out.append(
            server_ingress(
                server,
                ns,
                host=options.ingress_host,
                gateway_host=options.gateway_host,
                tls_secret=options.tls_secret,
                ingress_class=options.ingress_class,
            )
        )
    out += render_team(DEFAULT_TEAM, options=render_options)
    return out


def state_header(options: InstallOptions) -> str:
    """Comments on top of the YAML: where the state that must survive restarts lives."""
    if options.models_url is not None:
        models = f"the object store at {options.models_url} (SAPWOOD_MODEL_STORE)"
    else:
        models = (
            f"the PersistentVolumeClaim {MODELS_CLAIM} ({options.models_access_mode}) "
            f"mounted at {MODELS_DIR}"
        )
    database = "the bundled PostgreSQL's claim" if options.bundled_postgres else "your PostgreSQL"
    return (
        "# Where state lives (SAPWOOD_HOME is scratch space):\n"
        f"#   database rows: {database}\n"
        f"#   models: {models}\n"
        f"#   the server key: the Secret {KEY_SECRET} (keep it: workload tokens derive from it)\n"
        "#   feed queues: Redis's claim (append-only file)\n"
    )


def render_install_yaml(
    options: InstallOptions = InstallOptions(),
    *,
    randbytes: RandomBytes = SYSTEM_BYTES,
    header: str = "",
) -> str:
    """The install as multi-document YAML for ``kubectl apply -f -``, after ``header`` and
    the note of where its state lives."""
    manifests = render_install(options, randbytes=randbytes)
    return header + state_header(options) + dump_manifests(manifests)


def seeded_header(seed: int) -> str:
    """The comment on top of a seeded copy: how to regenerate it, and not to apply it."""
    return (
        "# Sapwood on Kubernetes: the default install (bundled PostgreSQL, no Ingress).\n"
        f"# Generated with a fixed seed ({seed}) so it is reviewable; do not edit. Regenerate:\n"
        f"#   {REGENERATE}\n"
        "# Its passwords are PUBLIC. Install with fresh ones instead:\n"
        "#   sapwood install kubernetes | kubectl apply -f -\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Prints the default install; ``--seed N`` makes it repeatable (and its secrets public)."""
    parser = argparse.ArgumentParser(prog="python -m sapwood.manifests.install")
    parser.add_argument("--seed", type=int, default=None, help="repeatable, public passwords")
    args = parser.parse_args(argv)
    if args.seed is None:
        sys.stdout.write(render_install_yaml())
    else:
        text = render_install_yaml(
            randbytes=seeded_bytes(args.seed), header=seeded_header(args.seed)
        )
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
