"""API token secrets: shape, splitting and hashing."""

from __future__ import annotations

import hashlib
import re

import pytest

from sapwood.server.secrets import hash_secret, new_token, secret_matches, split_token


def test_new_token_has_the_sw_id_secret_shape_and_splits_back() -> None:
    token = new_token()
    assert re.fullmatch(r"sw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", token.token), token.token
    parts = split_token(token.token)
    assert parts is not None
    token_id, secret = parts
    assert token_id == token.id
    assert secret_matches(secret, token.secret_hash)


def test_new_token_never_stores_the_secret() -> None:
    token = new_token()
    parts = split_token(token.token)
    assert parts is not None
    assert parts[1] not in token.secret_hash
    assert token.secret_hash == hashlib.sha256(parts[1].encode()).hexdigest()


def test_new_tokens_differ() -> None:
    first, second = new_token(), new_token()
    assert first.id != second.id
    assert first.token != second.token
    assert first.secret_hash != second.secret_hash


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("sw_abc123_s3cret", ("abc123", "s3cret")),
        ("sw_abc_with_under_scores", ("abc", "with_under_scores")),
        ("sw_abc_-x", ("abc", "-x")),
    ],
)
def test_split_token(token: str, parts: tuple[str, str]) -> None:
    assert split_token(token) == parts


@pytest.mark.parametrize(
    "token",
    ["", "sw", "sw_", "sw_abc", "sw_abc_", "sw__secret", "xx_abc_secret", "SW_abc_secret", "abc"],
)
def test_split_token_refuses_other_shapes(token: str) -> None:
    assert split_token(token) is None


def test_hash_is_sha256_hex() -> None:
    assert hash_secret("s3cret") == hashlib.sha256(b"s3cret").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_secret("x"))


def test_secret_matches_only_its_own_hash() -> None:
    stored = hash_secret("right")
    assert secret_matches("right", stored)
    assert not secret_matches("wrong", stored)
    assert not secret_matches("right", hash_secret("right "))
    assert not secret_matches("right", "")
