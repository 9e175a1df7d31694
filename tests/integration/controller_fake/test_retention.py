"""Retention end to end: old utilisation samples go, recent ones and training metrics stay;
feeds lose expired results even when no record arrives any more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import workspace

pytestmark = pytest.mark.anyio


async def counts(sw: Harness) -> dict[str, int]:
    return {s.name: s.count for s in await sw.sdk.list_metrics("workspace", "lab")}


async def test_the_sweep_removes_old_samples_and_keeps_training_metrics(sw: Harness) -> None:
    monitor = sw.manager.utilisation
    monitor.retention_s = timedelta(days=7).total_seconds()
    monitor.sweep_batch = 3  # several batches: 3 samples x 4 series are old
    await sw.apply(workspace("lab"))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=40.0, memory_bytes=10**8)
    start = sw.clock.now()
    for _ in range(3):
        await monitor.sample_once()
        sw.clock.advance(15)
    # Training metrics far older than the retention, one named sapwood.* like no sample.
    await sw.sdk.write_metrics(
        "workspace",
        "lab",
        [
            {"name": "loss", "value": 0.9, "step": 0, "time": start - timedelta(days=30)},
            {"name": "loss", "value": 0.5, "step": 1, "time": start},
            {"name": "sapwood.tokens_per_s", "value": 1.0, "time": start - timedelta(days=30)},
        ],
    )

    sw.clock.advance(timedelta(days=8))
    await monitor.sample_once()
    assert (await counts(sw))["sapwood.cpu_percent"] == 4

    assert await monitor.sweep_if_due() == 12  # 3 old samples of 4 series
    assert await counts(sw) == {
        "loss": 2,
        "sapwood.cpu_percent": 1,
        "sapwood.cpu_requested_percent": 1,
        "sapwood.memory_bytes": 1,
        "sapwood.memory_requested_bytes": 1,
        "sapwood.tokens_per_s": 1,
    }
    [loss] = await sw.sdk.list_metrics("workspace", "lab", metric="loss")
    assert [p.value for p in loss.points] == [0.9, 0.5]


async def test_a_sweep_runs_at_start_then_at_most_every_ten_minutes(sw: Harness) -> None:
    monitor = sw.manager.utilisation
    monitor.retention_s = 60
    await sw.apply(workspace("lab"))
    await sw.until_phase("Workspace", "lab", "Running")
    await monitor.sample_once()
    assert await monitor.sweep_if_due() == 0  # the first: due, nothing old yet

    sw.clock.advance(120)  # the sample is past its retention, but no sweep is due yet
    assert await monitor.sweep_if_due() is None
    assert "sapwood.cpu_percent" in await counts(sw)

    sw.clock.advance(timedelta(minutes=10))
    assert await monitor.sweep_if_due() == 4
    assert await counts(sw) == {}


async def test_the_sweep_prunes_a_feed_that_no_longer_receives_records(sw: Harness) -> None:
    monitor = sw.manager.utilisation
    await sw.apply(feed("ids", results={"retention": "1h"}, workers={"min": 0, "max": 0}))
    await sw.sdk.push_records("ids", antinex_rows(5))
    batch = await sw.sdk.lease_batch("ids")
    assert batch is not None
    answers = to_ipc(threshold_scores(from_ipc(batch.records)))
    await sw.sdk.ack_batch("ids", batch.lease_id, answers, model_version="1")
    await sw.sdk.push_records("ids", antinex_rows(3))  # waiting: kept whatever its age
    assert (await sw.sdk.feed_figures("ids")).records == 8

    sw.clock.advance(timedelta(hours=2))  # no record arrives any more
    await monitor.sweep_if_due()

    assert (await sw.sdk.feed_results("ids")).items == []
    figures = await sw.sdk.feed_figures("ids")
    assert (figures.records, figures.backlog) == (3, 3)
