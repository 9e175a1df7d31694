"""The dashboard's layout in a real browser: chart legends readable, pages that fit a phone.

A live server without a controller, filled through the SDK: a feed with scored results, a
job with a metric. Screenshots land in test-artifacts/dashboard/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sapwood.client import Client
from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from sapwood.testing.servers import LiveServer, live_server
from tests.e2e.dashboard.test_dashboard_browser import ARTIFACTS, _page, _require_chromium
from tests.support import job, workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

PHONE = {"width": 375, "height": 800}
PAGES = {
    "overview": "/",
    "queue": "/ui/queue",
    "workloads": "/ui/workloads",
    "job": "/ui/workloads/jobs/default/train",
    "deploy": "/ui/deploy",
    "models": "/ui/models",
    "feeds": "/ui/feeds",
    "feed": "/ui/feeds/default/ids",
}


@pytest.fixture
def filled_server(tmp_path: Path) -> Iterator[LiveServer]:
    _require_chromium()
    with live_server(tmp_path / "home") as server:
        with Client(server.url, token=server.admin_token) as admin:
            admin.apply([feed("ids", team="default"), job("train"), workspace("notebook")])
            admin.push_records("ids", antinex_rows(30))
            while (batch := admin.lease_batch("ids")) is not None:
                results = to_ipc(threshold_scores(from_ipc(batch.records)))
                admin.ack_batch("ids", batch.lease_id, results, model_version="1")
            admin.push_records("ids", antinex_rows(5, seed=1))  # waiting: a backlog
            points = [{"name": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(5)]
            admin.write_metrics("job", "train", points)
        yield server


def _sign_in(page: Page, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/ui/login")
    page.get_by_label("Token").fill(server.admin_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()


def test_chart_legends_show_their_whole_text(filled_server: LiveServer) -> None:
    from playwright.sync_api import expect

    with _page() as page:
        _sign_in(page, filled_server)
        page.goto(filled_server.url + "/ui/feeds")
        page.screenshot(path=str(ARTIFACTS / "feeds-legends.png"), full_page=True)
        boxes = []
        for text in ("Ingested total 35", "Scored total 30", "Backlog peak 5"):
            entry = page.get_by_text(text)
            expect(entry).to_be_visible()
            # The text fits its box: nothing clipped or spilling over its neighbours.
            fits = "e => e.scrollWidth <= Math.ceil(e.getBoundingClientRect().width) + 1"
            assert entry.evaluate(fits), f"the legend entry {text!r} does not fit its box"
            box = entry.bounding_box()
            assert box is not None
            assert box["width"] > 100, f"the legend entry {text!r} is squeezed: {box}"
            boxes.append(box)
        first, second = boxes[0], boxes[1]  # side by side or stacked, never on top
        apart_x = (
            first["x"] + first["width"] <= second["x"]
            or second["x"] + second["width"] <= first["x"]
        )
        apart_y = (
            first["y"] + first["height"] <= second["y"]
            or second["y"] + second["height"] <= first["y"]
        )
        assert apart_x or apart_y


def test_every_page_fits_a_phone_and_wide_tables_scroll_in_place(
    filled_server: LiveServer,
) -> None:
    from playwright.sync_api import expect

    with _page() as page:
        page.set_viewport_size(PHONE)
        _sign_in(page, filled_server)
        overflowing = {}
        for name, path in PAGES.items():
            page.goto(filled_server.url + path)
            expect(page.locator("main h1")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                overflowing[name] = width
        assert overflowing == {}, f"pages wider than the {PHONE['width']} px screen"
        # The feeds table is wider than the screen: its own box scrolls sideways.
        page.goto(filled_server.url + "/ui/feeds")
        table = page.get_by_role("table", name="Feeds; rates and latencies")
        scroller = table.locator("xpath=..")
        assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
        assert scroller.evaluate("e => getComputedStyle(e).overflowX") in ("auto", "scroll")
        scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        expect(table.get_by_role("columnheader", name="Flagged share")).to_be_in_viewport()
