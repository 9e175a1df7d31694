"""`sapwood pause` and `sapwood resume`: stop a workspace or service and bring it back."""

from __future__ import annotations

import typer

from sapwood.cli.output import object_ref, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import Object, Phase, Reason
from sapwood.specs.objects import kind_of

KIND_ARGUMENT = typer.Argument(..., help="workspace/ws or service/svc")
NAME_ARGUMENT = typer.Argument(..., help="the object's name")


def pause(
    kind: str = KIND_ARGUMENT, name: str = NAME_ARGUMENT, team: str | None = TEAM_OPTION
) -> None:
    """Pause a workspace or service: its replicas stop, its volumes and spec are kept."""
    with connect(team=team) as client:
        obj = client.pause(kind_of(kind), name)
    print_out(f"{object_ref(obj)} paused (its replicas stop; resume with `sapwood resume`)")


def resume(
    kind: str = KIND_ARGUMENT, name: str = NAME_ARGUMENT, team: str | None = TEAM_OPTION
) -> None:
    """Resume a paused or idle-paused workspace or service: it queues for admission again."""
    with connect(team=team) as client:
        obj = client.resume(kind_of(kind), name)
    print_out(resume_text(obj))


def resume_text(obj: Object) -> str:
    """What a resume did, from the object the server answered with."""
    if obj.phase is Phase.FAILED:
        return f"{object_ref(obj)} restarts after failing (waiting for admission)"
    if (
        obj.phase in (Phase.PAUSED, Phase.PENDING)
        or obj.status.get("reason") == Reason.RESUME_REQUESTED
    ):
        return f"{object_ref(obj)} resumed (waiting for admission)"
    return f"{object_ref(obj)} is not paused ({obj.phase}): nothing to resume"


def register(app: typer.Typer) -> None:
    app.command("pause")(pause)
    app.command("resume")(resume)
