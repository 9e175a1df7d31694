"""The `sapwood` command: builds the Typer app from one module per command."""

from __future__ import annotations

import typer

import sapwood
from sapwood.cli import (
    extend,
    feed,
    install,
    models,
    notify,
    pause,
    quotas,
    slack,
    teams,
    tokens,
    users,
)
from sapwood.cli.apply import apply
from sapwood.cli.capture import capture
from sapwood.cli.delete import delete
from sapwood.cli.describe import describe
from sapwood.cli.errors import ErrorHandlingGroup
from sapwood.cli.events import events
from sapwood.cli.get import get
from sapwood.cli.login import login, whoami
from sapwood.cli.logs import logs
from sapwood.cli.metrics import metrics
from sapwood.cli.output import print_out
from sapwood.cli.render import render
from sapwood.cli.rerun import rerun
from sapwood.cli.server import serve


def version() -> None:
    """Show the version of this command-line tool."""
    print_out(f"sapwood {sapwood.__version__}")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="sapwood",
        help="Sapwood: workspaces, jobs and services for AI teams, under quotas.",
        cls=ErrorHandlingGroup,
        no_args_is_help=True,
        add_completion=True,
        # Locals would print tokens in a traceback.
        pretty_exceptions_show_locals=False,
    )
    app.command("server")(serve)
    app.command("login")(login)
    app.command("whoami")(whoami)
    app.command("version")(version)
    app.command("apply")(apply)
    app.command("get")(get)
    app.command("describe")(describe)
    app.command("delete")(delete)
    app.command("events")(events)
    app.command("logs")(logs)
    app.command("metrics")(metrics)
    app.command("queue")(quotas.queue)
    app.command("render")(render)
    app.command("capture")(capture)
    app.command("rerun")(rerun)
    pause.register(app)
    extend.register(app)
    app.add_typer(teams.app)
    app.add_typer(users.app)
    app.add_typer(tokens.app)
    app.add_typer(quotas.app)
    app.add_typer(notify.app)
    app.add_typer(models.app)
    app.add_typer(install.app)
    app.add_typer(feed.app)
    app.add_typer(slack.app)
    return app


app = build_app()


def main() -> None:
    app()
