"""Retention end to end: old utilisation samples go, recent ones and training metrics stay;
feeds lose expired results even when no record arrives any more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.integration.controller_fake.conftest import Harness, key
from tests.integration.controller_fake.observing import monitor_of, sample
from tests.support import workspace

pytestmark = pytest.mark.anyio


async def counts(sw: Harness) -> dict[str, int]:
    return {s.name: s.count for s in await sw.sdk.list_metrics("workspace", "lab")}


async def test_the_sweep_removes_old_samples_and_keeps_training_metrics(sw: Harness) -> None:
    monitor = monitor_of(sw)
    monitor.retention_s = timedelta(days=7).total_seconds()
    monitor.sweep_batch = 3  # several batches: 3 samples x 4 series are old
    await sw.apply(workspace("lab"))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=40.0, memory_bytes=10**8)
    start = sw.clock.now()
    for _ in range(3):
        sw.clock.advance(15)
        await sample(sw)
    assert (await counts(sw))["sapwood.cpu_percent"] == 3
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
    await sample(sw)  # a fourth sample, then a sweep (due: 10 minutes passed)
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
    # The monitor's first round, at the server's start, swept (nothing was old yet).
    monitor_of(sw).retention_s = 60
    await sw.apply(workspace("lab"))
    await sw.until_phase("Workspace", "lab", "Running")
    await sample(sw)

    sw.clock.advance(120)  # the first sample is past its retention, but no sweep is due yet
    await sample(sw)
    assert (await counts(sw))["sapwood.cpu_percent"] == 2

    sw.clock.advance(timedelta(minutes=10))
    await sample(sw)  # a sweep is due: only this round's sample is recent enough to stay
    assert await counts(sw) == {
        "sapwood.cpu_percent": 1,
        "sapwood.cpu_requested_percent": 1,
        "sapwood.memory_bytes": 1,
        "sapwood.memory_requested_bytes": 1,
    }


async def test_the_sweep_prunes_a_feed_that_no_longer_receives_records(sw: Harness) -> None:
    await sw.apply(feed("ids", results={"retention": "1h"}, workers={"min": 0, "max": 0}))
    await sw.sdk.push_records("ids", antinex_rows(5))
    batch = await sw.sdk.lease_batch("ids")
    assert batch is not None
    answers = to_ipc(threshold_scores(from_ipc(batch.records)))
    await sw.sdk.ack_batch("ids", batch.lease_id, answers, model_version="1")
    await sw.sdk.push_records("ids", antinex_rows(3))  # waiting: kept whatever its age
    assert (await sw.sdk.feed_figures("ids")).records == 8

    sw.clock.advance(timedelta(hours=2))  # no record arrives any more
    await sample(sw)  # and sweep

    assert (await sw.sdk.feed_results("ids")).items == []
    figures = await sw.sdk.feed_figures("ids")
    assert (figures.records, figures.backlog) == (3, 3)
