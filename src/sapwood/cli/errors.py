"""The CLI's one place for failures: how an error reads, and the group that catches them.

Commands raise; they never print errors themselves. :class:`ErrorHandlingGroup` wraps the
whole command tree, so every failure the user can fix prints ``error: ...`` (with field
lines and a ``hint:``) to stderr and exits 1. Usage errors stay with Typer (exit 2).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from sapwood.cli.output import print_err
from sapwood.client.errors import (
    ConnectionFailedError,
    ForbiddenError,
    SapwoodError,
    UnauthorizedError,
)
from sapwood.specs.documents import DocumentError

LOGIN_HINT = "log in with `sapwood login --url URL --token TOKEN`, or set SAPWOOD_TOKEN"
SERVER_HINT = "start the server with `sapwood server`, or point SAPWOOD_URL at a running one"
# For a 413 from a server too old to say the remedy itself.
TOO_LARGE_HINT = (
    "send less at once (`sapwood feed push` splits files by itself), or ask the operator "
    "to raise the server's SAPWOOD_MAX_BODY_BYTES"
)


class CliError(Exception):
    """A problem the CLI found itself (a missing file, no documents): message and hint."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def error_lines(exc: Exception) -> list[str]:
    """What the user reads for a failure: ``error: ...``, indented details, ``hint: ...``."""
    if isinstance(exc, SapwoodError):
        lines = _sapwood_error_lines(exc)
        hint = exc.hint or _default_hint(exc)
    elif isinstance(exc, DocumentError) and len(exc.errors) > 1:
        where = exc.source if exc.index is None else f"{exc.source}, document {exc.index}"
        lines = [f"error: {where} is invalid:"]
        lines += [f"  {e.path}: {e.message}" if e.path else f"  {e.message}" for e in exc.errors]
        hint = None
    elif isinstance(exc, CliError):
        lines, hint = [f"error: {exc.message}"], exc.hint
    else:
        lines, hint = [f"error: {exc}"], None
    if hint:
        lines.append(f"hint: {hint}")
    return lines


def _sapwood_error_lines(exc: SapwoodError) -> list[str]:
    message = exc.message
    label = _LABELS.get(type(exc))
    if label and label not in message.lower():
        message = f"{label}: {message}"
    lines = [f"error: {message}"]
    lines += [f"  {d.path}: {d.message}" if d.path else f"  {d.message}" for d in exc.details]
    return lines


# Said up front so a user sees at once which of the two auth failures it is.
_LABELS: dict[type[SapwoodError], str] = {
    UnauthorizedError: "unauthorized",
    ForbiddenError: "forbidden",
}


def _default_hint(exc: SapwoodError) -> str | None:
    if isinstance(exc, ConnectionFailedError):
        return SERVER_HINT
    if isinstance(exc, UnauthorizedError):
        return LOGIN_HINT
    if exc.status == 413:
        return TOO_LARGE_HINT
    return None


class ErrorHandlingGroup(TyperGroup):
    """The root command group: turns SapwoodError, CliError and ValueError into exit 1."""

    # Typer's Context type lives in its private vendored click; Any keeps the override valid.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (SapwoodError, CliError, ValueError) as exc:
            for line in error_lines(exc):
                print_err(line, style="red" if line.startswith("error:") else None)
            raise typer.Exit(1) from None
