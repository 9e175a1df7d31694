"""`sapwood slack manifest`: what Slack's "create an app from a manifest" needs."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from sapwood.cli.main import build_app
from sapwood.manifests.slack_app import ManifestError, slack_manifest


def test_http_mode_sends_commands_and_clicks_to_the_events_path() -> None:
    manifest = slack_manifest(url="https://sapwood.lab.example/", socket_mode=False)
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/sapwood"
    assert command["url"] == "https://sapwood.lab.example/slack/events"
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity == {
        "is_enabled": True,
        "request_url": "https://sapwood.lab.example/slack/events",
    }
    assert manifest["settings"]["socket_mode_enabled"] is False
    # What the app calls: posts, updates, direct messages, files, the command.
    bot = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "im:write", "files:write"} <= bot


def test_socket_mode_needs_no_address() -> None:
    manifest = slack_manifest(url=None, socket_mode=True)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["interactivity"]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (None, "needs --url"),
        ("http://sapwood.lab.example", "must be an https://"),
        ("https://", "must be an https://"),
    ],
)
def test_http_mode_refuses_an_address_slack_cannot_post_to(url: str | None, words: str) -> None:
    with pytest.raises(ManifestError, match=words):
        slack_manifest(url=url, socket_mode=False)


def test_the_command_prints_yaml_or_json_and_fails_by_name() -> None:
    runner = CliRunner()
    app = build_app()
    result = runner.invoke(app, ["slack", "manifest", "--url", "https://s.example"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["settings"]["interactivity"]["is_enabled"] is True
    result = runner.invoke(app, ["slack", "manifest", "--socket-mode", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["settings"]["socket_mode_enabled"] is True
    result = runner.invoke(app, ["slack", "manifest"])
    assert result.exit_code != 0
    assert "--url" in result.output
