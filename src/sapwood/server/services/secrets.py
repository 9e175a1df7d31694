"""Token secrets: random, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "sw"


@dataclass(frozen=True)
class NewToken:
    id: str
    secret_hash: str
    token: str  # the only place the secret exists; never logged or stored


def new_token() -> NewToken:
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewToken(token_id, hash_secret(secret), f"{PREFIX}_{token_id}_{secret}")


def hash_secret(secret: str) -> str:
    # The secret has 256 random bits, so a fast hash is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) from ``sw_<id>_<secret>``; None when it has another shape."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    return token_id, secret


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
