"""`sapwood install kubernetes`: print the manifests of a Sapwood install; offline."""

from __future__ import annotations

import typer

from sapwood.cli.errors import CliError
from sapwood.cli.output import print_out
from sapwood.manifests.install import InstallOptions, render_install_yaml
from sapwood.manifests.options import DEFAULT_SERVER_IMAGE

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
    ingress_class: str | None = typer.Option(None, "--ingress-class", help="IngressClass name"),
    image: str = typer.Option(DEFAULT_SERVER_IMAGE, "--image", help="the server's image"),
    storage_class: str | None = typer.Option(
        None, "--storage-class", help="StorageClass of volumes [default: the cluster's]"
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
            tls_secret=tls_secret,
            ingress_class=ingress_class,
            storage_class=storage_class,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print_out(render_install_yaml(options).rstrip("\n"))
