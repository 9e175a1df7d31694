"""The dashboard's feed pages over HTTP: the newest results, a feed's own page, its charts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.server.store.tables import ObjectRow
from sapwood.testing.clock import FakeClock
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"


async def _score_out_of_order(api: Api, clock: FakeClock) -> None:
    """Three posts of 4 records (sequences 1-4, 5-8, 9-12), leased together and acked
    last batch first, a minute apart: the first records are the newest results."""
    await api.admin.apply([feed("ids", team="default")])
    for seed in range(3):
        await api.admin.push_records("ids", antinex_rows(4, seed=seed))
    leased = []
    while (batch := await api.admin.lease_batch("ids", consumer=f"w{len(leased)}")) is not None:
        leased.append(batch)
    assert len(leased) == 3
    for batch in reversed(leased):
        clock.advance(timedelta(minutes=1))
        results = threshold_scores(from_ipc(batch.records))
        await api.admin.ack_batch("ids", batch.lease_id, to_ipc(results), model_version="1")


def _sequences(html: str, caption: str) -> list[int]:
    table = re.search(rf"<caption>{re.escape(caption)}</caption>.*?</table>", html, re.S)
    assert table, f"no table {caption!r}"
    return [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", table.group(0))]


async def test_the_newest_results_are_those_scored_last(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    await _score_out_of_order(api, clock)
    async with browser(api.admin_token) as client:
        text = (await client.get("/ui/feeds")).text
    # Batch 1-4 was scored last, then 5-8; 9-12 first (and fell off the ten shown).
    assert _sequences(text, "default/ids: newest results") == [4, 3, 2, 1, 8, 7, 6, 5, 12, 11]


async def test_a_quiet_feed_still_shows_its_last_results(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    await _score_out_of_order(api, clock)
    clock.advance(timedelta(hours=2))  # nothing scored since
    async with browser(api.admin_token) as client:
        text = (await client.get("/ui/feeds")).text
    assert _sequences(text, "default/ids: newest results")[:4] == [4, 3, 2, 1]


async def test_each_chart_line_has_a_legend_entry_drawn_in_its_style(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    await _score_out_of_order(api, clock)
    async with browser(api.admin_token) as client:
        text = (await client.get("/ui/feeds")).text
    figure = re.search(
        r"<figure class=\"chart\">(?:(?!</figure>).)*default/ids throughput.*?</figure>", text, re.S
    )
    assert figure
    lines = re.findall(r'<polyline class="line (\w+)"[^>]*data-series="(\w+)"', figure.group(0))
    legend = re.findall(
        r'<li class="key-entry" data-series="(\w+)"><svg class="swatch"[^>]*>'
        r'<line class="line (\w+)"[^>]*></line></svg>(\w+) total',
        figure.group(0),
    )
    assert lines == [("ingested", "Ingested"), ("scored", "Scored")]
    assert legend == [("Ingested", "ingested", "Ingested"), ("Scored", "scored", "Scored")]


async def test_a_feed_has_its_own_page_linked_from_the_list(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    await _score_out_of_order(api, clock)
    workers = [{"index": 0, "state": "Running", "ready": True, "restarts": 1}]
    conditions = [
        {
            "type": "ModelFound",
            "status": "False",
            "reason": "ModelNotFound",
            "message": "ids@production does not exist",
        }
    ]
    state = api.transport.app.state.sapwood  # type: ignore[attr-defined]
    async with state.sessions() as session:
        await session.execute(
            update(ObjectRow)
            .where(ObjectRow.kind == "Feed", ObjectRow.name == "ids")
            .values(
                status={
                    "phase": "Degraded",
                    "reason": "ModelNotFound",
                    "message": "ids@production does not exist",
                    "replicas": workers,
                    "conditions": conditions,
                    "backlog": 0,
                }
            )
        )
        await session.commit()
    async with browser(api.admin_token) as client:
        listing = (await client.get("/ui/feeds")).text
        assert 'href="/ui/feeds/default/ids"' in listing
        page = await client.get("/ui/feeds/default/ids")
        missing = await client.get("/ui/feeds/default/nope")
    text = page.text
    assert page.status_code == 200
    assert 'Feed <span class="mono">ids</span>' in text
    assert "<dt>model</dt><dd>ids@production</dd>" in text  # the spec
    assert "ids@production does not exist" in text  # why it is degraded
    assert "<caption>Conditions</caption>" in text
    assert "<td>ModelFound</td><td>False</td><td>ModelNotFound</td>" in text
    assert "<dt>Records ingested (all time)</dt><dd>12</dd>" in text  # the figures
    assert 'data-chart="default/ids throughput"' in text
    assert _sequences(text, "default/ids: newest 20 results")[:5] == [4, 3, 2, 1, 8]
    assert "<caption>Workers</caption>" in text
    assert "feed/ids created" in text  # an event
    assert "Delete feed…" in text
    assert missing.status_code == 404
    assert "feed/nope not found" in missing.text


async def test_deleting_a_feed_from_its_page(api: Api, browser: Browser) -> None:
    await api.admin.apply([feed("ids", team="default")])
    async with browser(api.admin_token) as client:
        page = await client.get("/ui/feeds/default/ids")
        refused = await client.post("/ui/feeds/default/ids/delete", data={})
        done = await client.post("/ui/feeds/default/ids/delete", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/feeds"
    assert await api.admin.list("feed") == []
