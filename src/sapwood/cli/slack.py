"""`sapwood slack manifest`: print the Slack app's manifest; offline (docs/slack.md)."""

from __future__ import annotations

import json

import typer
import yaml

from sapwood.cli.errors import CliError
from sapwood.cli.output import print_out
from sapwood.cli.session import connect
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


@app.command("status")
def status() -> None:
    """Show whether the server's Slack app is on, its mode, and its link to Slack (admins)."""
    with connect() as client:
        got = client.slack_status()
    lines = [f"mode: {got.mode.value}"]
    if got.connected is not None:
        lines.append(f"connected: {'yes' if got.connected else 'no'}")
        lines.append(f"sockets opened: {got.sockets_opened}")
    if got.connect_failures:
        lines.append(f"failed connects in a row: {got.connect_failures}")
    if got.last_error is not None:
        when = f" at {got.last_error_at:%Y-%m-%d %H:%M:%S} UTC" if got.last_error_at else ""
        lines.append(f"last error: {got.last_error}{when}")
    print_out("\n".join(lines))
