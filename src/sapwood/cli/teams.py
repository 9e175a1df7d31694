"""`sapwood teams`: list, create and delete teams (admins)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import typer

from sapwood.cli.output import format_age, format_table, print_err, print_out
from sapwood.cli.session import connect
from sapwood.schemas import Team

app = typer.Typer(name="teams", help="List, create and delete teams.", no_args_is_help=True)


@app.command("list")
def list_teams() -> None:
    """List the teams you can see."""
    with connect() as client:
        teams = client.list_teams()
    if teams:
        print_out(team_table(teams, now=datetime.now(UTC)))
    else:
        print_err("No teams found.")


@app.command("create")
def create_team(name: str = typer.Argument(..., help="lowercase letters, digits and '-'")) -> None:
    """Create a team."""
    with connect() as client:
        team = client.create_team(name)
    print_out(f"team/{team.name} created")


@app.command("delete")
def delete_team(name: str = typer.Argument(..., help="the team's name")) -> None:
    """Delete a team."""
    with connect() as client:
        client.delete_team(name)
    print_out(f"team/{name} deleted")


def team_table(teams: Sequence[Team], *, now: datetime) -> str:
    rows = [(t.name, format_age(t.created_at, now)) for t in sorted(teams, key=lambda t: t.name)]
    return format_table(("NAME", "AGE"), rows)
