"""Feed workers on the FakeRuntime: admitted like any workload, as many as the backlog asks."""

from __future__ import annotations

import sys

import httpx
import pytest
from sqlalchemy import func, select

from sapwood.schemas import EventType
from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.server.store.tables import FeedBatchRow
from sapwood.specs.antinex import FEATURES
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from sapwood.testing.onnx_models import mlp_model
from tests.integration.controller_fake.conftest import Harness

pytestmark = pytest.mark.anyio


def _running(sw: Harness) -> set[int]:
    started = {u.key.replica for u in sw.fake.started if u.key.kind == "Feed"}
    stopped = {k.replica for k in sw.fake.stopped if k.kind == "Feed"}
    return started - stopped


def _model() -> bytes:
    return mlp_model(features=67, hidden=4, classes=2, feature_names=list(FEATURES))


async def test_workers_follow_the_backlog_within_min_and_max(sw: Harness) -> None:
    workers = {"min": 0, "max": 3, "targetBacklogPerWorker": 10}
    await sw.sdk.push_model(_model(), name="ids", alias="production")
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
    assert ids.status["target"] == {"workers": 3}  # decided, beside the observed backlog

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


async def test_a_feed_whose_model_does_not_exist_says_so_until_it_does(sw: Harness) -> None:
    spec = {"model": "antinex@production", "workers": {"min": 1, "max": 1}}
    await sw.apply(feed("traffic", team="default", **spec))
    await sw.step(3)
    got = await sw.get("feed", "traffic")
    missing = "antinex@production does not exist in team default"
    assert got.phase == "Degraded"
    assert got.status["reason"] == "ModelNotFound"
    assert got.status["message"].startswith(missing)
    assert got.status["readyReplicas"] == 0
    assert _running(sw) == {0}  # its worker runs, to pick the model up once it is pushed
    warnings = [e for e in await sw.events("feed", "traffic") if e.reason == "ModelNotFound"]
    assert len(warnings) == 1
    assert warnings[0].type == EventType.WARNING
    assert warnings[0].message.startswith(missing)

    transport = sw.api.transport
    async with httpx.AsyncClient(transport=transport, base_url="http://sapwood.test") as ui:
        signed_in = await ui.post("/ui/login", data={"token": sw.api.admin_token, "next": "/"})
        assert signed_in.status_code == 303
        page = (await ui.get("/ui/feeds")).text
    assert f"<td>Degraded</td><td>ModelNotFound: {missing}" in page

    await sw.sdk.push_model(_model(), name="antinex", alias="production")
    await sw.step(2)
    got = await sw.get("feed", "traffic")
    assert (got.phase, got.status["readyReplicas"], got.status["modelVersion"]) == ("Running", 1, 1)
    assert "reason" not in got.status
    assert "ModelFound" in await sw.reasons("feed", "traffic")
