"""What the Slack app sends: a message's fallback text and blocks, and an optional file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]


@dataclass(frozen=True)
class Attachment:
    """A file posted beside a message (a long log)."""

    filename: str
    content: bytes
    title: str


@dataclass(frozen=True)
class Message:
    """``text`` is what notifications and screen readers show; ``blocks`` the layout."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    file: Attachment | None = None


def section(text: str) -> Block:
    """A mrkdwn section (Slack caps a section's text at 3,000 characters)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": False}
