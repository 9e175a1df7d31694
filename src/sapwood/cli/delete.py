"""`sapwood delete`: mark an object for deletion; the controller winds it down."""

from __future__ import annotations

import typer

from sapwood.cli.output import object_ref, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import DeleteResponse
from sapwood.specs.objects import kind_of, kinds_help


def delete(
    kind: str = typer.Argument(..., help=kinds_help()),
    name: str = typer.Argument(..., help="the object's name"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Delete an object: at once, or once its workloads have stopped."""
    canonical = kind_of(kind)
    with connect(team=team) as client:
        response = client.delete(canonical, name)
    print_out(delete_line(response))


def delete_line(response: DeleteResponse) -> str:
    """``job/train deleted``, or ``... marked for deletion`` while it still winds down."""
    state = "deleted" if response.finished else "marked for deletion"
    return f"{object_ref(response.object)} {state}"
