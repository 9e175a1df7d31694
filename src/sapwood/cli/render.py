"""`sapwood render`: the Kubernetes manifests of spec files, printed as YAML.

Offline, except that objects without a team ask the server which team is yours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from sapwood.cli.apply import read_documents, validated_bodies
from sapwood.cli.errors import CliError
from sapwood.cli.output import print_out
from sapwood.cli.session import connect
from sapwood.client import SapwoodError
from sapwood.manifests import Manifest, RenderError, dump_manifests, render_object
from sapwood.manifests.options import DEFAULT_SERVER_IMAGE, RenderOptions
from sapwood.schemas import WhoAmI
from sapwood.schemas.auth import implied_team
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
    """Print the Kubernetes manifests for the objects in files (to pipe into kubectl).
    Objects without a team go to the one `apply` would pick: --team, else your only team
    (asked from the server), else default."""
    options = RenderOptions(server_image=server_image)
    documents = read_documents(files)
    if team is None and any(_lacks_team(body) for body in validated_bodies(documents)):
        team = _your_team()
    manifests = render_documents(documents, team=team, namespace=namespace, options=options)
    print_out(dump_manifests(manifests).rstrip("\n"))


def _lacks_team(body: Mapping[str, Any]) -> bool:
    meta = body.get("metadata")
    return not (isinstance(meta, Mapping) and meta.get("team"))


def _your_team() -> str:
    try:
        with connect() as client:
            return client.aio.team or pick_team(client.whoami())
    except SapwoodError as exc:
        raise CliError(
            f"an object has no team, and asking the server which team is yours failed: "
            f"{exc.message}",
            hint="give --team, set SAPWOOD_TEAM or set metadata.team",
        ) from None


def pick_team(me: WhoAmI) -> str:
    """The team `apply` uses for objects without one: the caller's only team, else
    ``default`` (as the server's default_team does); CliError when that is ambiguous."""
    teams = sorted(m.team for m in me.teams)
    implied = implied_team(teams, admin=me.admin)
    if implied is not None:
        return implied
    if not teams:
        raise CliError(f"user {me.user} belongs to no team", hint="ask an admin to add you")
    raise CliError(
        f"you belong to several teams ({', '.join(teams)}): say which one",
        hint="give --team, set SAPWOOD_TEAM or set metadata.team",
    )


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
