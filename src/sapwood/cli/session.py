"""Opening the SDK client for one command, and the options every command shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from sapwood.client import Client

TEAM_OPTION = typer.Option(
    None, "--team", "-t", help="team to act in [env SAPWOOD_TEAM, default from the config]"
)


@contextmanager
def connect(*, team: str | None = None) -> Iterator[Client]:
    """A client for the configured server and token (env, then config file); closed after."""
    with Client(team=team) as client:
        yield client
