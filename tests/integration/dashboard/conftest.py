"""A dashboard client: an httpx client on the app that keeps cookies, and sign-in helpers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from tests.support import Api

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

Browser = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@pytest.fixture
def browser(api: Api) -> Browser:
    """Opens a cookie-keeping client, signed in with ``token`` unless it is None."""

    @asynccontextmanager
    async def open_browser(
        token: str | None = None, *, base_url: str = "http://sapwood.test"
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(transport=api.transport, base_url=base_url) as client:
            if token is not None:
                response = await client.post("/ui/login", data={"token": token, "next": "/"})
                assert response.status_code == 303, response.text
            yield client

    return open_browser
