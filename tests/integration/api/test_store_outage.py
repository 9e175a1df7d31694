"""The database goes away under a running server, on SQLite and PostgreSQL: requests get
503 with Retry-After (not 500), the log says so once per outage rather than a traceback
per request, and the server answers again as soon as the database is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sapwood.server.app import create_app
from sapwood.server.store.engine import is_sqlite
from sapwood.testing.clock import FakeClock
from tests.support import Api, job
from tests.support_outage import Outage, outage_settings, outage_switch

pytestmark = pytest.mark.anyio

REQUESTS = 10


@pytest.fixture
async def outage(database_url: str, tmp_path: Path) -> AsyncIterator[Outage]:
    async with outage_switch(database_url, tmp_path) as switch:
        yield switch


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


async def test_an_unreachable_database_answers_503_and_is_logged_once(
    outage: Outage, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tokens: list[str] = []
    app = create_app(outage_settings(outage, tmp_path), clock=clock, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app), Api(app, tokens[0]).http(tokens[0]) as http:
        assert (await http.get("/api/v1/jobs")).status_code == 200
        caplog.set_level(logging.INFO, logger="sapwood")

        await outage.cut()
        if is_sqlite(outage.url):
            # An open SQLite connection outlives its file's folder: only new ones fail.
            await app.state.sapwood.engine.dispose()
        answers = await asyncio.gather(
            *(http.get("/api/v1/jobs") for _ in range(REQUESTS)),
            http.post("/api/v1/apply", json={"objects": [job("train")]}),
        )

        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            assert answer.json()["error"]["code"] == "unavailable"
        [down] = logged(caplog, "database unreachable")
        assert down.getMessage() != "database unreachable: "
        assert not [r for r in caplog.records if r.exc_info], "no traceback per request"

        await outage.mend()
        assert (await http.get("/api/v1/jobs")).status_code == 200
        applied = await http.post("/api/v1/apply", json={"objects": [job("train")]})
        assert applied.status_code == 200
        assert len(logged(caplog, "database reachable again")) == 1
        assert len(logged(caplog, "database unreachable")) == 1
