"""Passwords and the server key for an install: random, never a default, from an
injectable source of bytes."""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass

RandomBytes = Callable[[int], bytes]
"""Returns n random bytes: ``secrets.token_bytes`` for real installs."""

PASSWORD_BYTES = 32
SERVER_KEY_BYTES = 32  # as the server makes its own (sapwood.server.secrets)


def token_urlsafe(randbytes: RandomBytes, nbytes: int = PASSWORD_BYTES) -> str:
    """What ``secrets.token_urlsafe(nbytes)`` returns, drawn from ``randbytes``."""
    return base64.urlsafe_b64encode(randbytes(nbytes)).rstrip(b"=").decode("ascii")


def seeded_bytes(seed: int) -> RandomBytes:
    """A repeatable (and so not secret) source, for tests and the checked-in rendered copy."""
    return random.Random(seed).randbytes


SYSTEM_BYTES: RandomBytes = secrets.token_bytes


@dataclass(frozen=True)
class InstallSecrets:
    """The generated passwords, PostgreSQL's (bundled database only) and Redis's, and the
    server key every workload token derives from (hex, as the server reads it)."""

    postgres_password: str
    redis_password: str
    server_key: str


def generate_secrets(randbytes: RandomBytes = SYSTEM_BYTES) -> InstallSecrets:
    """Fresh passwords of 43 URL-safe characters (256 bits) each, and a 256-bit key."""
    postgres_password = token_urlsafe(randbytes)
    redis_password = token_urlsafe(randbytes)
    return InstallSecrets(
        postgres_password=postgres_password,
        redis_password=redis_password,
        server_key=randbytes(SERVER_KEY_BYTES).hex(),
    )
