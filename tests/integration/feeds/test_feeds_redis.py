"""The same feed cycle with Redis Streams as the broker (SAPWOOD_REDIS_URL)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.server.settings import ControllerSettings, FeedSettings, Settings, StoreSettings
from sapwood.testing.clock import FakeClock
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.conftest import redis_url
from tests.support import Api

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = redis_url()
    return Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sapwood.db'}"),
        controller=ControllerSettings(enabled=False),
        feeds=FeedSettings(redis_url=url),
    )


async def test_ingest_lease_redeliver_and_ack_through_redis(api: Api, clock: FakeClock) -> None:
    name = f"ids-{uuid.uuid4().hex[:8]}"  # Redis is shared between runs
    await api.admin.apply([feed(name, team="default", batch={"maxRecords": 3})])
    await api.admin.push_records(name, antinex_rows(6), batch_id="once")
    await api.admin.push_records(name, antinex_rows(6), batch_id="once")
    held = await api.admin.lease_batch(name, consumer="slow")
    assert held is not None
    while (batch := await api.admin.lease_batch(name, consumer="fast")) is not None:
        answers = to_ipc(threshold_scores(from_ipc(batch.records)))
        await api.admin.ack_batch(name, batch.lease_id, answers, model_version="1")
    figures = await api.admin.feed_figures(name)
    assert (figures.records, figures.scored, figures.backlog) == (6, 3, 3)
    await api.admin.delete("feed", name)
