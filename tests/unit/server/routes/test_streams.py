"""The per-token stream cap and the response that gives its place back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest

from sapwood.server.routes.streams import HeldStream
from sapwood.server.services.errors import TooManyRequestsError
from sapwood.server.services.streams import RETRY_AFTER_S, StreamLimiter, refusal

pytestmark = pytest.mark.anyio


def test_refusal_names_the_open_count_and_the_cap() -> None:
    assert refusal(7, 8) is None
    message = refusal(8, 8)
    assert message is not None
    assert "8 are open and the cap is 8" in message
    assert "SAPWOOD_MAX_STREAMS_PER_TOKEN" in message


def test_the_cap_is_per_token_and_a_release_frees_a_place_once() -> None:
    limiter = StreamLimiter(2)
    first = limiter.acquire("a")
    limiter.acquire("a")
    with pytest.raises(TooManyRequestsError) as refused:
        limiter.acquire("a")
    assert refused.value.retry_after_s == RETRY_AFTER_S
    limiter.acquire("b")  # another token has its own count
    first.release()
    first.release()  # idempotent: the count does not drop twice
    assert limiter.open_count("a") == 1
    limiter.acquire("a")
    with pytest.raises(TooManyRequestsError):
        limiter.acquire("a")


async def _silent() -> AsyncIterator[bytes]:
    await asyncio.Event().wait()  # a follow stream with nothing to say
    yield b""


async def test_a_silent_stream_gives_its_place_back_when_the_client_hangs_up() -> None:
    limiter = StreamLimiter(1)
    slot = limiter.acquire("a")
    gone = asyncio.Event()
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        started.set()

    response = HeldStream(_silent(), slot=slot, media_type="text/plain")
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    task = asyncio.create_task(response(scope, receive, send))
    async with asyncio.timeout(5):
        await started.wait()
    assert limiter.open_count("a") == 1
    gone.set()
    async with asyncio.timeout(5):
        await task
    assert limiter.open_count("a") == 0


async def test_a_stream_that_ends_gives_its_place_back() -> None:
    limiter = StreamLimiter(1)

    async def two() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    response = HeldStream(two(), slot=limiter.acquire("a"), media_type="text/plain")
    async with asyncio.timeout(5):
        await response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send)
    assert b"".join(m.get("body", b"") for m in sent) == b"ab"
    assert limiter.open_count("a") == 0
