"""Errors on the dashboard's paths are HTML pages; the API under /api/v1 keeps its JSON."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api, job

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"


def _is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and (
        "<!doctype html>" in response.text
    )


async def test_an_unknown_page_is_an_html_404_and_the_api_keeps_json(
    api: Api, browser: Browser
) -> None:
    async with browser(api.admin_token) as client:
        page = await client.get("/ui/nothing-here")
    async with api.http(api.admin_token) as http:
        api_answer = await http.get("/api/v1/nothing/here/at/all")
    assert page.status_code == 404
    assert _is_page(page)
    assert "There is no page at /ui/nothing-here" in page.text
    assert 'href="/"' in page.text  # a way back
    assert api_answer.status_code == 404
    assert api_answer.json()["error"]["code"] == "not_found"


async def test_an_unknown_object_is_an_html_404_and_json_on_the_api(
    api: Api, browser: Browser
) -> None:
    async with browser(api.admin_token) as client:
        page = await client.get("/ui/workloads/jobs/default/nope")
    assert page.status_code == 404
    assert _is_page(page)
    assert "job/nope not found" in page.text
    async with api.http(api.admin_token) as http:
        answer = await http.get("/api/v1/jobs/nope")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].startswith("job/nope")


async def test_a_refused_write_is_an_html_403(api: Api, browser: Browser) -> None:
    await api.admin.apply([job("train")])
    await api.admin.create_user("vic", teams={"default": "viewer"})
    viewer = (await api.admin.create_token(user="vic")).token
    async with browser(viewer) as client:
        csrf = csrf_of((await client.get("/ui/deploy")).text)
        page = await client.post("/ui/workloads/jobs/default/train/delete", data={"csrf": csrf})
    assert page.status_code == 403
    assert _is_page(page)
    assert "viewer" in page.text


async def test_a_malformed_query_and_a_wrong_method_are_html_pages(
    api: Api, browser: Browser
) -> None:
    await api.admin.apply([job("train")])
    async with browser(api.admin_token) as client:
        bad = await client.get("/ui/workloads/jobs/default/train/logs?replica=many")
        wrong = await client.get("/ui/logout")
    assert bad.status_code == 422
    assert _is_page(bad)
    assert "replica" in bad.text
    assert wrong.status_code == 405
    assert _is_page(wrong)
    assert "POST" in wrong.headers["allow"]


async def test_an_unexpected_error_is_an_html_500_and_json_on_the_api(
    api: Api, browser: Browser
) -> None:
    app = api.transport.app
    assert isinstance(app, FastAPI)

    async def boom() -> None:
        raise RuntimeError("a bug")

    for path in ("/ui/boom", "/api/v1/boom"):
        app.add_api_route(path, boom)
        app.router.routes.insert(0, app.router.routes.pop())  # before the generic routes
    # As a browser sees it: the server answers 500, the test does not re-raise the bug.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://sapwood.test") as client:
        page = await client.get("/ui/boom")
        answer = await client.get("/api/v1/boom")
    assert page.status_code == 500
    assert _is_page(page)
    assert "internal server error; see the server log" in page.text.lower()
    assert "a bug" not in page.text  # nothing of the exception leaks into the page
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal"
