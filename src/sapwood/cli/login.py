"""`sapwood login` and `sapwood whoami`: which server, which user, which token."""

from __future__ import annotations

import os

import typer

from sapwood.cli.errors import CliError
from sapwood.cli.output import print_err, print_out
from sapwood.cli.session import connect
from sapwood.client import Client
from sapwood.client.config import DEFAULT_URL, ClientConfig, config_path, write_config
from sapwood.schemas import Membership, WhoAmI


def login(
    url: str = typer.Option(DEFAULT_URL, "--url", help="the server's address"),
    token: str = typer.Option(
        ..., "--token", prompt=True, hide_input=True, help="an API token (asked for when left out)"
    ),
    team: str | None = typer.Option(None, "--team", "-t", help="default team for commands"),
) -> None:
    """Check a token, then save it and the server's address for later commands."""
    with Client(url, token=token, team=team) as client:
        me = client.whoami()
    if team and not me.admin and team not in {m.team for m in me.teams}:
        raise CliError(
            f"{me.user} is not a member of team {team!r}",
            hint=f"your teams: {teams_text(me.teams)}",
        )
    path = config_path(os.environ)
    write_config(path, ClientConfig(url=url, token=token, team=team))
    print_out(f"Logged in to {url} as {me.user}" + (f" (team {team})." if team else "."))
    print_out(f"Saved to {path}.")
    for name in ("SAPWOOD_URL", "SAPWOOD_TOKEN"):
        if os.environ.get(name):
            print_err(f"note: {name} is set and takes precedence over the saved {name[8:].lower()}")


def whoami() -> None:
    """Show the user behind the current token, and the server."""
    with connect() as client:
        me = client.whoami()
        url = client.url
    print_out(whoami_text(me, url=url))


def whoami_text(me: WhoAmI, *, url: str) -> str:
    return "\n".join(
        [
            f"User:    {me.user}" + (" (admin)" if me.admin else ""),
            f"Teams:   {teams_text(me.teams)}",
            f"Token:   {me.token_id}",
            f"Server:  {url}",
        ]
    )


def teams_text(memberships: list[Membership]) -> str:
    """``ml (admin), research (viewer)``; ``<none>`` without any."""
    return (
        ", ".join(f"{m.team} ({m.role})" for m in sorted(memberships, key=lambda m: m.team))
        or "<none>"
    )
