"""`sapwood events`: what happened to objects, newest last, as a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import typer

from sapwood.cli.output import format_age, format_table, kind_word, print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import Event
from sapwood.specs.objects import kind_of


def events(
    kind: str | None = typer.Argument(None, help="only this kind (job, service, ...)"),
    name: str | None = typer.Argument(None, help="only this object (needs KIND)"),
    team: str | None = TEAM_OPTION,
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="at most this many"),
) -> None:
    """List recent events: of everything, of one kind, or of one object."""
    canonical = kind_of(kind) if kind is not None else None
    with connect(team=team) as client:
        found = client.events(canonical, name, limit=limit)
    if found:
        print_out(event_table(found, now=datetime.now(UTC), with_object=True))
    else:
        print_err("No events found.")


def event_table(events: Sequence[Event], *, now: datetime, with_object: bool = False) -> str:
    """Oldest first, so the latest event sits just above the prompt. AGE is since the
    event last happened; a repeated one says how often and over how long, as kubectl
    does: ``3m (x127 over 25s)``."""
    ordered = sorted(events, key=lambda e: (e.created_at, e.id))
    headers = ("AGE", "TYPE", "REASON", *(("OBJECT",) if with_object else ()), "MESSAGE")
    rows = [
        (
            age_text(e, now),
            str(e.type),
            e.reason,
            *((f"{kind_word(e.kind)}/{e.name}",) if with_object else ()),
            e.message,
        )
        for e in ordered
    ]
    return format_table(headers, rows)


def age_text(event: Event, now: datetime) -> str:
    """Since the event last happened, with ``(xN over D)`` when it happened N > 1 times."""
    first = event.first_seen or event.created_at
    last = event.last_seen or event.created_at
    age = format_age(last, now)
    if event.count > 1:
        return f"{age} (x{event.count} over {format_age(first, last)})"
    return age
