"""`sapwood quotas` (team shares, set by admins) and `sapwood queue` (who waits, and why)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import typer

from sapwood.cli.output import format_age, format_table, print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import Amounts, Limits, QueueEntry, Quota

app = typer.Typer(
    name="quotas", help="Team quotas: guaranteed shares and borrowing caps.", no_args_is_help=True
)


def parse_amounts(text: str, *, option: str) -> dict[str, str]:
    """``cpu=4,memory=16Gi,gpu=2`` -> a mapping; a clear error naming the bad term."""
    out: dict[str, str] = {}
    for term in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = term.partition("=")
        if not sep or key not in ("cpu", "memory", "gpu") or not value:
            raise typer.BadParameter(
                f"{term!r}: expected cpu=…, memory=… or gpu=…, joined by commas", param_hint=option
            )
        out[key] = value
    return out


@app.command("list")
def list_quotas() -> None:
    """List the quotas of the teams you can see."""
    with connect() as client:
        quotas = client.list_quotas()
    if quotas:
        print_out(quota_table(quotas))
    else:
        print_err("No quotas set: every team may use whatever is free.")


@app.command("set")
def set_quota(
    team: str = typer.Argument(..., help="the team"),
    guaranteed: str = typer.Option("", help="always reachable, e.g. cpu=8,memory=32Gi,gpu=2"),
    max: str = typer.Option("", "--max", help="borrowing cap, e.g. gpu=8 (default: no cap)"),
    weight: float = typer.Option(1.0, help="fair-share weight"),
) -> None:
    """Set a team's quota (admins), replacing any it had."""
    floor = parse_amounts(guaranteed, option="--guaranteed")
    cap = parse_amounts(max, option="--max") if max else None
    with connect() as client:
        quota = client.set_quota(team, guaranteed=floor, max=cap, weight=weight)
    print_out(
        f"quota/{quota.team} set: guaranteed {amounts_text(quota.guaranteed)}, "
        f"max {amounts_text(quota.max) if quota.max else 'none'}"
    )


@app.command("delete")
def delete_quota(team: str = typer.Argument(..., help="the team")) -> None:
    """Remove a team's quota (admins)."""
    with connect() as client:
        client.delete_quota(team)
    print_out(f"quota/{team} deleted")


def queue(team: str | None = TEAM_OPTION) -> None:
    """Show waiting work in the order it will start, and why each waits."""
    with connect() as client:
        entries = client.queue(team=team)
    if entries:
        print_out(queue_table(entries, now=datetime.now(UTC)))
    else:
        print_err("Nothing is waiting.")


def amounts_text(amounts: Amounts | Limits | None) -> str:
    if amounts is None:
        return "none"
    data = amounts.model_dump(mode="json", exclude_none=True)
    return ", ".join(f"{k} {v}" for k, v in data.items()) or "none"


def quota_table(quotas: Sequence[Quota]) -> str:
    rows = [
        (q.team, amounts_text(q.guaranteed), amounts_text(q.max), f"{q.weight:g}") for q in quotas
    ]
    return format_table(("TEAM", "GUARANTEED", "MAX", "WEIGHT"), rows)


def queue_table(entries: Sequence[QueueEntry], *, now: datetime) -> str:
    rows = [
        (
            str(e.position or "-"),
            f"{e.kind.lower()}/{e.name}",
            e.team,
            e.priority,
            format_age(e.waiting_since, now) if e.waiting_since else "-",
            e.reason,
        )
        for e in entries
    ]
    return format_table(("#", "WORKLOAD", "TEAM", "PRIORITY", "WAITING", "REASON"), rows)
