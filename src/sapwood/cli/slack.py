"""`sapwood slack manifest`: print the Slack app's manifest; offline (docs/slack.md)."""

from __future__ import annotations

import json

import typer
import yaml

from sapwood.cli.errors import CliError
from sapwood.cli.output import print_out
from sapwood.manifests.slack_app import ManifestError, slack_manifest

app = typer.Typer(name="slack", help="Set up the Slack app.", no_args_is_help=True)


@app.command("manifest")
def manifest(
    url: str | None = typer.Option(
        None, "--url", help="the server's public https address (HTTP mode: Slack posts here)"
    ),
    socket_mode: bool = typer.Option(
        False, "--socket-mode", help="the server dials out to Slack: no public address needed"
    ),
    name: str = typer.Option("Sapwood", "--name", help="the app's and bot's name in Slack"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of YAML"),
) -> None:
    """Print the app manifest for Slack's "create an app from a manifest"."""
    try:
        document = slack_manifest(url=url, socket_mode=socket_mode, name=name)
    except ManifestError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print_out(json.dumps(document, indent=2))
    else:
        print_out(yaml.safe_dump(document, sort_keys=False, width=1000).rstrip())
