"""Token secrets: random, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "sw"
# Owner of the tokens workloads get for their own objects; it belongs to no team.
WORKLOADS_USER = "sapwood-workloads"


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


def workload_token(server_key: bytes, uid: str) -> NewToken:
    """The token a workload gets for its own object, derived so restarts reuse it.

    Derived from the server's key and the object's uid with HMAC: the server never stores
    the secret, yet can hand the same token to every replica and restart.
    """
    token_id = workload_token_id(uid)
    secret = hmac.new(server_key, f"workload:{uid}".encode(), hashlib.sha256).hexdigest()
    return NewToken(token_id, hash_secret(secret), f"{PREFIX}_{token_id}_{secret}")


def workload_token_id(uid: str) -> str:
    """The id of the token of the object ``uid``: needs no key, so the store finds the row
    (to revoke it when the run ends) without the secret."""
    return "w" + hashlib.sha256(uid.encode()).hexdigest()[:15]


class ServerKeyError(RuntimeError):
    """The configured server key cannot be read; the server must not start without it."""


KEY_BYTES = 32
KEY_FILE_SETTING = "SAPWOOD_SECRET_KEY_FILE"


def read_server_key(key_file: Path | None, *, home: Path, attempts: int = 50) -> bytes:
    """The server's key: from ``key_file`` when one is configured, else ``home/secret.key``
    (created on first use).

    A configured file is never created: every workload token the database knows derives
    from that key, so a fresh one would lock out every running workload. A missing or
    malformed file raises ``ServerKeyError`` naming it. The home default tolerates another
    process (the gateway, or the API server) creating it at the same moment.
    """
    if key_file is not None:
        return _configured_key(key_file)
    path = home / "secret.key"
    for _ in range(attempts):
        try:
            key = load_or_create_key(path)
        except (FileExistsError, ValueError):  # created, or half-written, by the other process
            key = b""
        if key:
            return key
        time.sleep(0.1)
    raise ServerKeyError(f"cannot read the server key in {path}")


def _configured_key(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise ServerKeyError(
            f"{KEY_FILE_SETTING}={path}: no such file. The server never makes a new key "
            "there (the workload tokens in the database derive from it): mount the key's "
            f"Secret at {path}, or unset {KEY_FILE_SETTING} to keep a key in SAPWOOD_HOME"
        ) from None
    except OSError as exc:
        raise ServerKeyError(f"{KEY_FILE_SETTING}={path}: cannot read it: {exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise ServerKeyError(
            f"{KEY_FILE_SETTING}={path}: the key must be at least {KEY_BYTES} bytes written "
            f"as hex ({2 * KEY_BYTES} characters, as `openssl rand -hex {KEY_BYTES}` prints)"
        )
    return key


def load_or_create_key(path: Path) -> bytes:
    """The server's secret key from ``path``, created (0600) on first use."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
    return key
