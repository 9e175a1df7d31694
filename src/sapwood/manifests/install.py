"""`sapwood install kubernetes`: the manifests of a whole Sapwood control plane.

Run as ``python -m sapwood.manifests.install --seed 0`` it prints the checked-in copy
``deploy/kubernetes/sapwood.yaml`` (whose passwords are public: never apply that copy).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sapwood.manifests.install_rbac import render_rbac
from sapwood.manifests.install_secrets import (
    SYSTEM_BYTES,
    RandomBytes,
    generate_secrets,
    seeded_bytes,
)
from sapwood.manifests.install_server import server_deployment, server_ingress, server_service
from sapwood.manifests.install_stores import bundled_postgres, external_database, redis
from sapwood.manifests.names import Manifest, metadata
from sapwood.manifests.options import DEFAULT_PRIORITIES, DEFAULT_SERVER_IMAGE, RenderOptions
from sapwood.manifests.render import dump_manifests
from sapwood.manifests.team import render_priority_classes, render_team
from sapwood.specs.base import check_name

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
    tls_secret: str | None = None
    ingress_class: str | None = None
    server_replicas: int = 2
    postgres_image: str = "postgres:16-alpine"
    postgres_storage_bytes: int = 10 * 1024**3
    redis_image: str = "redis:7-alpine"
    storage_class: str | None = None
    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))

    def __post_init__(self) -> None:
        try:
            check_name(self.namespace)
        except ValueError as exc:
            raise ValueError(f"--namespace: {exc}") from None
        if self.tls_secret is not None and self.ingress_host is None:
            raise ValueError("--tls-secret needs --ingress-host: TLS is served by the Ingress")
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
            api_url=f"http://sapwood.{self.namespace}.svc.cluster.local",
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
    out += redis(_labels("redis"), ns, password=generated.redis_password, image=options.redis_image)
    server = _labels("server")
    out += [
        server_deployment(
            server,
            ns,
            image=options.image,
            replicas=options.server_replicas,
            service_account=render_options.server_service_account,
        ),
        server_service(server, ns),
    ]
    if options.ingress_host is not None:
        out.append(
            server_ingress(
                server,
                ns,
                host=options.ingress_host,
                tls_secret=options.tls_secret,
                ingress_class=options.ingress_class,
            )
        )
    out += render_team(DEFAULT_TEAM, options=render_options)
    return out


def render_install_yaml(
    options: InstallOptions = InstallOptions(),
    *,
    randbytes: RandomBytes = SYSTEM_BYTES,
    header: str = "",
) -> str:
    """The install as multi-document YAML for ``kubectl apply -f -``, after ``header``."""
    return header + dump_manifests(render_install(options, randbytes=randbytes))


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
