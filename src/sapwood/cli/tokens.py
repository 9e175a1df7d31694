"""`sapwood tokens`: create (secret shown once), list (never the secret), revoke."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import typer

from sapwood.cli.output import (
    as_utc,
    format_age,
    format_remaining,
    format_table,
    print_err,
    print_out,
)
from sapwood.cli.session import connect
from sapwood.schemas import Token, TokenCreated
from sapwood.specs.quantity import DURATION_HELP, parse_duration

app = typer.Typer(name="tokens", help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command("create")
def create_token(
    user: str | None = typer.Option(
        None, "--user", "-u", help="for this user (admins); default you"
    ),
    description: str = typer.Option("", "--description", "-d", help="what it is for"),
    expires_in: str | None = typer.Option(
        None,
        "--expires-in",
        help=f"lifetime above 0s, {DURATION_HELP}; leave it out for a token that never expires",
    ),
) -> None:
    """Create a token and print its secret: the only time it is shown."""
    try:
        lifetime = parse_duration(expires_in) if expires_in is not None else None
        if lifetime is not None and not lifetime:
            raise ValueError(
                "must be above 0s; leave --expires-in out for a token that never expires"
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--expires-in'") from None
    with connect() as client:
        created = client.create_token(user=user, description=description, expires_in=lifetime)
    print_out(created_text(created))


@app.command("list")
def list_tokens(
    user: str | None = typer.Option(None, "--user", "-u", help="this user's tokens (admins)"),
) -> None:
    """List tokens (never their secrets)."""
    with connect() as client:
        tokens = client.list_tokens(user=user)
    if tokens:
        print_out(token_table(tokens, now=datetime.now(UTC)))
    else:
        print_err("No tokens found.")


@app.command("revoke")
def revoke_token(
    token_id: str = typer.Argument(..., metavar="ID", help="from `tokens list`"),
) -> None:
    """Revoke a token: it stops working at once."""
    with connect() as client:
        client.revoke_token(token_id)
    print_out(f"token/{token_id} revoked")


def created_text(created: TokenCreated) -> str:
    expires = created.expires_at.isoformat(timespec="seconds") if created.expires_at else "never"
    return "\n".join(
        [
            f"token/{created.id} created for user {created.user} (expires: {expires})",
            "",
            f"    {created.token}",
            "",
            "Copy this secret now: it will not be shown again.",
        ]
    )


def token_table(tokens: Sequence[Token], *, now: datetime) -> str:
    rows = [
        (
            t.id,
            t.user,
            t.description or "-",
            token_state(t, now=now),
            format_age(t.created_at, now),
            _expires(t, now=now),
            f"{format_age(t.last_used_at, now)} ago" if t.last_used_at else "never",
        )
        for t in tokens
    ]
    headers = ("ID", "USER", "DESCRIPTION", "STATE", "AGE", "EXPIRES", "LAST USED")
    return format_table(headers, rows)


def token_state(token: Token, *, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and as_utc(token.expires_at) <= now:
        return "expired"
    return "active"


def _expires(token: Token, *, now: datetime) -> str:
    if token.expires_at is None:
        return "never"
    if as_utc(token.expires_at) <= now:
        return "-"
    return f"in {format_remaining(token.expires_at, now)}"
