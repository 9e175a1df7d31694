"""`sapwood users`: accounts and their role in each team (admins)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import typer

from sapwood.cli.login import teams_text
from sapwood.cli.output import format_age, format_table, print_err, print_out
from sapwood.cli.session import connect
from sapwood.schemas import Role, User

app = typer.Typer(
    name="users", help="List, create and delete users; set their roles.", no_args_is_help=True
)

ROLES = ", ".join(r.value for r in Role)


@app.command("list")
def list_users() -> None:
    """List users with their teams and roles."""
    with connect() as client:
        users = client.list_users()
    if users:
        print_out(user_table(users, now=datetime.now(UTC)))
    else:
        print_err("No users found.")


@app.command("create")
def create_user(
    name: str = typer.Argument(..., help="lowercase letters, digits and '-'"),
    admin: bool = typer.Option(False, "--admin", help="may do everything, in every team"),
    teams: list[str] = typer.Option(
        [], "--team", "-t", help=f"TEAM:ROLE, role one of {ROLES}; repeatable"
    ),
) -> None:
    """Create a user, optionally with a role in each of some teams."""
    memberships = parse_memberships(teams)
    with connect() as client:
        user = client.create_user(name, admin=admin, teams=memberships)
    print_out(f"user/{user.name} created")
    print_err(f"hint: give them a token with `sapwood tokens create --user {user.name}`")


@app.command("delete")
def delete_user(name: str = typer.Argument(..., help="the user's name")) -> None:
    """Delete a user and their tokens."""
    with connect() as client:
        client.delete_user(name)
    print_out(f"user/{name} deleted")


@app.command("set-role")
def set_role(
    user: str = typer.Argument(..., help="the user's name"),
    team: str = typer.Argument(..., help="the team's name"),
    role: Role = typer.Argument(..., help="admin, member or viewer"),
) -> None:
    """Give a user a role in a team (adding them to it if needed)."""
    with connect() as client:
        membership = client.set_membership(user, team, role)
    print_out(f"user/{user} is now {membership.role} in team {membership.team}")


@app.command("remove")
def remove(
    user: str = typer.Argument(..., help="the user's name"),
    team: str = typer.Argument(..., help="the team's name"),
) -> None:
    """Take a user out of a team."""
    with connect() as client:
        client.remove_membership(user, team)
    print_out(f"user/{user} removed from team {team}")


def parse_memberships(values: Sequence[str]) -> dict[str, Role]:
    """``["research:member"]`` -> ``{"research": Role.MEMBER}``; BadParameter names the fault."""
    out: dict[str, Role] = {}
    for value in values:
        team, sep, role = value.partition(":")
        if not sep or not team:
            raise typer.BadParameter(f"{value!r} is not TEAM:ROLE", param_hint="'--team'")
        try:
            out[team] = Role(role)
        except ValueError:
            raise typer.BadParameter(
                f"role {role!r} in {value!r} is not one of {ROLES}", param_hint="'--team'"
            ) from None
    return out


def user_table(users: Sequence[User], *, now: datetime) -> str:
    rows = [
        (u.name, "yes" if u.admin else "no", teams_text(u.teams), format_age(u.created_at, now))
        for u in sorted(users, key=lambda u: u.name)
    ]
    return format_table(("NAME", "ADMIN", "TEAMS", "AGE"), rows)
