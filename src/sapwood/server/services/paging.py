"""Opaque continue tokens for keyset pagination."""

from __future__ import annotations

import base64
import json

from sapwood.schemas.base import MAX_BIGINT
from sapwood.server.services.errors import InvalidError


def encode_continue(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_continue(token: str | None) -> int:
    """The id to continue after; 0 for the first page; InvalidError for a mangled token."""
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidError(
            "the continue token is not valid", hint="start again without it"
        ) from None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_BIGINT:
        raise InvalidError("the continue token is not valid", hint="start again without it")
    return after


def clamp_limit(limit: int | None, *, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise InvalidError(f"limit must be between 1 and {maximum}, got {limit}")
    return limit
