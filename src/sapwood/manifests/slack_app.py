"""The Slack app's manifest, for Slack's "create an app from a manifest": the `/sapwood`
command, interactivity, the bot's scopes, and where Slack sends requests. Pure.

In HTTP mode Slack posts slash commands and button clicks to ``{url}/slack/events``, so the
server needs a public HTTPS address. In Socket Mode the server dials out to Slack and no
request URL is needed (behind a firewall); the app-level token (``xapp-…``, scope
``connections:write``) is made in Slack's app settings, not by the manifest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

COMMAND = "/sapwood"
USAGE_HINT = "env create | env list | queue | jobs | status | logs job NAME | link | help"
# What the app calls: chat.postMessage/update (chat:write, and chat:write.public to post in
# public channels it was not invited to), conversations.open for direct messages (im:write),
# files.uploadV2 for long logs (files:write), the slash command (commands).
BOT_SCOPES = ("chat:write", "chat:write.public", "commands", "files:write", "im:write")
EVENTS_PATH = "/slack/events"


class ManifestError(ValueError):
    """The options cannot make a working manifest; the message says which and why."""


def slack_manifest(*, url: str | None, socket_mode: bool, name: str = "Sapwood") -> dict[str, Any]:
    """The manifest; ``url`` is where Slack reaches the server (HTTP mode: required, https)."""
    if not 1 <= len(name) <= 35:
        raise ManifestError(f"name {name!r} must be 1 to 35 characters (Slack's limit)")
    request_url = None
    if not socket_mode:
        if not url:
            raise ManifestError(
                "HTTP mode needs --url, the server's public https address; or pass "
                "--socket-mode to have the server dial out to Slack instead"
            )
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ManifestError(f"--url {url!r} must be an https:// address Slack can reach")
        request_url = url.rstrip("/") + EVENTS_PATH
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Research environments, jobs and queues",
        "usage_hint": USAGE_HINT,
        "should_escape": False,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url is not None:
        command["url"] = request_url
        interactivity["request_url"] = request_url
    return {
        "display_information": {
            "name": name,
            "description": "Create, use and remove research environments from Slack.",
            "background_color": "#2f4f3a",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
