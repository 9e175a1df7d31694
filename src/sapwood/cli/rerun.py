"""`sapwood rerun job NAME`: run a finished job again with the same spec."""

from __future__ import annotations

import typer

from sapwood.cli.output import object_ref, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.specs.objects import kind_of


def rerun(
    kind: str = typer.Argument(..., help="job (only jobs run to an end)"),
    name: str = typer.Argument(..., help="the job's name"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Run a Succeeded or Failed job again with the same spec; its earlier runs are kept in
    its status (`sapwood describe job NAME`) and the last one's logs with `logs --previous`."""
    if kind_of(kind) != "Job":
        raise typer.BadParameter(f"only jobs can be rerun, not {kind!r}", param_hint="KIND")
    with connect(team=team) as client:
        obj = client.rerun(name)
    last = (obj.status.get("history") or [{}])[-1]
    reason = f" ({last['reason']})" if last.get("reason") not in (None, "Completed") else ""
    print_out(
        f"{object_ref(obj)}: run {obj.status.get('run', '?')} queued after run "
        f"{last.get('run', '?')} {last.get('phase', 'ended')}{reason}; "
        f"`sapwood logs job {obj.metadata.name} --previous` shows the run before"
    )
