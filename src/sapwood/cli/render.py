"""`sapwood render`: the Kubernetes manifests of spec files, printed as YAML; offline."""

from __future__ import annotations

import typer

from sapwood.cli.apply import read_documents, validated_bodies
from sapwood.cli.errors import CliError
from sapwood.cli.output import print_out
from sapwood.kubernetes import Manifest, RenderError, dump_manifests, render_object
from sapwood.kubernetes.options import DEFAULT_SERVER_IMAGE, RenderOptions
from sapwood.specs.documents import Document
from sapwood.specs.objects import parse_object


def render(
    files: list[str] = typer.Option(
        ...,
        "--filename",
        "-f",
        help="YAML or JSON file, a directory of them (not recursive), or - for stdin; repeatable",
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="namespace of every object [default: sapwood-<team>]"
    ),
    team: str | None = typer.Option(
        None,
        "--team",
        "-t",
        envvar="SAPWOOD_TEAM",
        help="team of objects without metadata.team [env SAPWOOD_TEAM]",
    ),
    server_image: str = typer.Option(
        DEFAULT_SERVER_IMAGE,
        "--server-image",
        help="the image of model servers and feed workers whose spec names none",
    ),
) -> None:
    """Print the Kubernetes manifests for the objects in files (to pipe into kubectl)."""
    options = RenderOptions(server_image=server_image)
    manifests = render_documents(
        read_documents(files), team=team, namespace=namespace, options=options
    )
    print_out(dump_manifests(manifests).rstrip("\n"))


def render_documents(
    documents: list[Document],
    *,
    team: str | None,
    namespace: str | None,
    options: RenderOptions | None = None,
) -> list[Manifest]:
    """Every object's manifests, in document order.

    Raises DocumentError for an invalid document, and CliError naming the document for a
    missing or conflicting team or an object Kubernetes cannot run; nothing is printed then.
    """
    manifests: list[Manifest] = []
    for index, body in enumerate(validated_bodies(documents), start=1):
        obj = parse_object(body)  # validated_bodies checked it already
        where = f"{obj.kind.lower()}/{obj.metadata.name} (object {index})"
        own = obj.metadata.team
        if own is not None and team is not None and own != team:
            raise CliError(f"{where}: metadata.team is {own!r} but --team is {team!r}")
        if own is None and team is None:
            raise CliError(
                f"{where}: no team", hint="give --team, set SAPWOOD_TEAM or set metadata.team"
            )
        try:
            manifests += render_object(
                obj, own or team, namespace=namespace, options=options or RenderOptions()
            )
        except RenderError as exc:
            raise CliError(f"{where}: {exc}") from None
    return manifests
