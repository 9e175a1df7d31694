"""Continue tokens and page limits."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sapwood.server.services.errors import InvalidError
from sapwood.server.services.paging import clamp_limit, decode_continue, encode_continue


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_continue_token_round_trip(last_id: int) -> None:
    token = encode_continue(last_id)
    assert decode_continue(token) == last_id
    assert "=" not in token  # safe in a query string without escaping
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_means_the_first_page(token: str | None) -> None:
    assert decode_continue(token) == 0


def _b64(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("!!!", id="not-base64"),
        pytest.param("a", id="truncated"),
        pytest.param(encode_continue(42)[:-3], id="cut-short"),
        pytest.param(_b64(b"not json"), id="not-json"),
        pytest.param(_b64(b"\xff\xfe"), id="not-utf8"),
        pytest.param(_b64(b"[1, 2]"), id="json-list"),
        pytest.param(_b64(b"null"), id="json-null"),
        pytest.param(_b64(b"42"), id="json-number"),
        pytest.param(_b64(json.dumps({"before": 1}).encode()), id="no-after"),
        pytest.param(_b64(json.dumps({"after": -1}).encode()), id="negative"),
        pytest.param(_b64(json.dumps({"after": "5"}).encode()), id="string-id"),
        pytest.param(_b64(json.dumps({"after": 1.5}).encode()), id="float-id"),
        pytest.param(_b64(json.dumps({"after": None}).encode()), id="null-id"),
    ],
)
def test_mangled_token_is_invalid(token: str) -> None:
    with pytest.raises(InvalidError) as info:
        decode_continue(token)
    assert info.value.message == "the continue token is not valid"
    assert info.value.hint == "start again without it"


def test_boolean_id_is_invalid() -> None:
    with pytest.raises(InvalidError):
        decode_continue(_b64(json.dumps({"after": True}).encode()))


@pytest.mark.parametrize(("limit", "expected"), [(None, 50), (1, 1), (500, 500)])
def test_clamp_limit(limit: int | None, expected: int) -> None:
    assert clamp_limit(limit, default=50, maximum=500) == expected


@pytest.mark.parametrize("limit", [0, -1, 501])
def test_clamp_limit_out_of_range_names_the_range(limit: int) -> None:
    with pytest.raises(InvalidError, match=f"limit must be between 1 and 500, got {limit}"):
        clamp_limit(limit, default=50, maximum=500)
