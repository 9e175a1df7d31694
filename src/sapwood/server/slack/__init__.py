"""Slack as a front end (docs/slack.md): slash commands, modals and buttons over the same
services the API uses, acting as the linked Sapwood user; bolt-python underneath, in HTTP
mode (``POST /slack/events``) or Socket Mode (the server dials out)."""
