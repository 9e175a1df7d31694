"""/docs in a real browser with no way out: Swagger UI renders from the server's own files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sapwood.testing.servers import LiveServer, live_server
from tests.e2e.dashboard.test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM, _require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    _require_chromium()
    with live_server(tmp_path / "home") as running:
        yield running


def test_docs_render_the_api_without_internet(server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    refused: list[str] = []

    def offline(route: Route) -> None:
        # As on a machine without internet: only the server itself answers.
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.route("**/*", offline)
            page.goto(server.url + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text(
                "Sapwood", timeout=30_000
            )
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
            expect(page.get_by_text("/api/v1/apply", exact=True).first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
        finally:
            browser.close()
    assert refused == [], f"/docs tried to load {refused}"
