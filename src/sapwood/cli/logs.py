"""`sapwood logs`: a replica's output, optionally followed across restarts."""

from __future__ import annotations

import sys

import typer

from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.specs.objects import kind_of, kinds_help


def logs(
    kind: str = typer.Argument(..., help=kinds_help()),
    name: str = typer.Argument(..., help="the object's name"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep streaming, across restarts"),
    previous: bool = typer.Option(False, "--previous", "-p", help="the run before the current"),
    replica: int = typer.Option(0, "--replica", "-r", help="which replica (from 0)"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Print a replica's stdout and stderr."""
    canonical = kind_of(kind)
    out = sys.stdout.buffer
    with connect(team=team) as client:
        try:
            for chunk in client.logs(
                canonical, name, replica=replica, follow=follow, previous=previous
            ):
                out.write(chunk)
                out.flush()
        except KeyboardInterrupt:
            pass
