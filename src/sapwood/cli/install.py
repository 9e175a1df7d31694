"""`sapwood install kubernetes`: print the manifests of a Sapwood install; offline."""

from __future__ import annotations

import typer

from sapwood.cli.errors import CliError
from sapwood.cli.output import print_out
from sapwood.manifests.install import InstallOptions, render_install_yaml
from sapwood.manifests.options import DEFAULT_CLUSTER_DOMAIN, DEFAULT_SERVER_IMAGE

app = typer.Typer(
    name="install", help="Print the manifests to install Sapwood.", no_args_is_help=True
)


@app.command("kubernetes")
def install_kubernetes(
    namespace: str = typer.Option("sapwood", "--namespace", "-n", help="namespace of the server"),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="external PostgreSQL (postgresql://USER:PASSWORD@HOST:5432/DB), kept in a Secret",
    ),
    bundled_postgres: bool = typer.Option(
        False, "--bundled-postgres", help="run PostgreSQL in the cluster (the default)"
    ),
    ingress_host: str | None = typer.Option(
        None, "--ingress-host", help="serve the API and dashboard at this host"
    ),
    tls_secret: str | None = typer.Option(
        None, "--tls-secret", help="TLS Secret for --ingress-host (kubernetes.io/tls)"
    ),
    gateway_host: str | None = typer.Option(
        None,
        "--gateway-host",
        help="serve the gateway (Sapwood Services, workspaces) at this host; it checks tokens",
    ),
    ingress_class: str | None = typer.Option(None, "--ingress-class", help="IngressClass name"),
    image: str = typer.Option(DEFAULT_SERVER_IMAGE, "--image", help="the server's image"),
    server_replicas: int = typer.Option(2, "--server-replicas", min=1, help="server pods"),
    storage_class: str | None = typer.Option(
        None, "--storage-class", help="StorageClass of volumes [default: the cluster's]"
    ),
    models_url: str | None = typer.Option(
        None,
        "--models-url",
        help="keep models in this object store (s3://bucket/prefix; credentials from the "
        "pod's cloud identity) instead of a claim",
    ),
    models_storage_class: str | None = typer.Option(
        None,
        "--models-storage-class",
        help="StorageClass of the models claim; it must offer the access mode "
        "[default: --storage-class]",
    ),
    models_access_mode: str = typer.Option(
        "ReadWriteMany",
        "--models-access-mode",
        help="ReadWriteMany, or ReadWriteOnce with --server-replicas 1",
    ),
    cluster_domain: str = typer.Option(
        DEFAULT_CLUSTER_DOMAIN, "--cluster-domain", help="the cluster's DNS domain"
    ),
    capacity_reads_all_pods: bool = typer.Option(
        False,
        "--capacity-reads-all-pods",
        help="let the server list every Pod in the cluster (read-only), so capacity "
        "subtracts other tenants' and DaemonSets' requests",
    ),
) -> None:
    """Print manifests to pipe into `kubectl apply -f -`, with freshly generated passwords."""
    if database_url is not None and bundled_postgres:
        raise CliError("give --database-url or --bundled-postgres, not both")
    try:
        options = InstallOptions(
            namespace=namespace,
            image=image,
            database_url=database_url,
            ingress_host=ingress_host,
            gateway_host=gateway_host,
            tls_secret=tls_secret,
            ingress_class=ingress_class,
            server_replicas=server_replicas,
            storage_class=storage_class,
            models_url=models_url,
            models_storage_class=models_storage_class,
            models_access_mode=models_access_mode,
            cluster_domain=cluster_domain,
            capacity_reads_all_pods=capacity_reads_all_pods,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print_out(render_install_yaml(options).rstrip("\n"))
