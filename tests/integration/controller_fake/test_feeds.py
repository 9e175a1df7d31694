"""Feed workers on the FakeRuntime: admitted like any workload, as many as the backlog asks."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import func, select

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.server.store.tables import FeedBatchRow
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.integration.controller_fake.conftest import Harness

pytestmark = pytest.mark.anyio


def _running(sw: Harness) -> set[int]:
    started = {u.key.replica for u in sw.fake.started if u.key.kind == "Feed"}
    stopped = {k.replica for k in sw.fake.stopped if k.kind == "Feed"}
    return started - stopped


async def test_workers_follow_the_backlog_within_min_and_max(sw: Harness) -> None:
    workers = {"min": 0, "max": 3, "targetBacklogPerWorker": 10}
    await sw.apply(feed("ids", team="default", workers=workers))
    await sw.step(2)
    ids = await sw.get("feed", "ids")
    assert ids.phase == "Running"
    assert _running(sw) == set()  # nothing to score, min 0

    await sw.sdk.push_records("ids", antinex_rows(25))
    await sw.step(3)
    assert _running(sw) == {0, 1, 2}  # ceil(25 / 10)
    unit = next(u for u in sw.fake.started if u.key.kind == "Feed")
    assert list(unit.command) == [sys.executable, "-m", "sapwood.feeds.worker"]
    assert unit.env["SAPWOOD_NAME"] == "ids"
    assert unit.env["SAPWOOD_KIND"] == "Feed"
    assert not unit.wants_port
    ids = await sw.get("feed", "ids")
    assert ids.status["backlog"] == 25
    assert ids.status["desiredWorkers"] == 3

    while (batch := await sw.sdk.lease_batch("ids")) is not None:
        answers = to_ipc(threshold_scores(from_ipc(batch.records)))
        await sw.sdk.ack_batch("ids", batch.lease_id, answers, model_version="1")
    await sw.step(3)
    assert _running(sw) == set()
    assert (await sw.get("feed", "ids")).status["backlog"] == 0


async def test_deleting_a_feed_drops_its_records_and_results(sw: Harness) -> None:
    await sw.apply(feed("ids", team="default", workers={"min": 0, "max": 1}))
    await sw.step(2)
    await sw.sdk.push_records("ids", antinex_rows(4))
    await sw.sdk.delete("feed", "ids")
    await sw.until(lambda: _gone(sw), passes=5)
    sessions = sw.api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FeedBatchRow)) == 0


async def _gone(sw: Harness) -> bool:
    return not await sw.exists("feeds", "ids")
