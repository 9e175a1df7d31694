"""`sapwood extend workspace NAME --by 1d`: give a workspace more time to live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from pydantic import TypeAdapter, ValidationError

from sapwood.cli.output import as_utc, format_remaining, object_ref, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import Object, Phase, Reason
from sapwood.specs.objects import kind_of
from sapwood.specs.quantity import DURATION_HELP
from sapwood.specs.workloads import Extension

EXTENSION: TypeAdapter[timedelta] = TypeAdapter(Extension)


def extend(
    kind: str = typer.Argument(..., help="workspace/ws (only workspaces have a time to live)"),
    name: str = typer.Argument(..., help="the workspace's name"),
    by: str = typer.Option(
        ..., "--by", help=f"how much longer it may live, 1m to 30d: {DURATION_HELP}, or 1d"
    ),
    team: str | None = TEAM_OPTION,
) -> None:
    """Extend a workspace's time to live: its expiry moves `--by` later (from now, once it
    has run out). A workspace paused at expiry can then be resumed."""
    if kind_of(kind) != "Workspace":
        raise typer.BadParameter(
            f"only workspaces have a time to live, not {kind!r}", param_hint="KIND"
        )
    try:
        span = EXTENSION.validate_python(by)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise typer.BadParameter(message, param_hint="'--by'") from None
    with connect(team=team) as client:
        obj = client.extend(name, by=span)
    print_out(extend_text(obj, now=datetime.now(UTC)))


def extend_text(obj: Object, *, now: datetime) -> str:
    """What an extension did, from the workspace the server answered with."""
    expires = obj.status.get("expiresAt")
    if expires is None:  # an older server: the status does not say
        return f"{object_ref(obj)} extended"
    until = as_utc(datetime.fromisoformat(expires))
    text = (
        f"{object_ref(obj)} extended: it expires at {until:%Y-%m-%d %H:%M} UTC "
        f"(in {format_remaining(until, now)})"
    )
    if obj.phase is Phase.PAUSED and obj.status.get("reason") == Reason.EXPIRED:
        text += f"; it is paused: `sapwood resume workspace {obj.metadata.name}` starts it"
    return text


def register(app: typer.Typer) -> None:
    app.command("extend")(extend)
