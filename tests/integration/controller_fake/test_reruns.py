"""Rerunning a finished Job end to end: SDK → store → controller → FakeRuntime."""

from __future__ import annotations

import pytest

from sapwood.client import ConflictError
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import job

pytestmark = pytest.mark.anyio


async def logs(sw: Harness, *, previous: bool) -> bytes:
    return b"".join([c async for c in sw.sdk.logs("job", "train", previous=previous)])


async def test_a_failed_job_reruns_with_its_history_and_last_logs_kept(sw: Harness) -> None:
    await sw.apply(job("train", retries=0))
    await sw.step()
    unit = key("Job", "train")
    sw.fake.write_log(unit, b"run 1: loss nan\n")

    with pytest.raises(ConflictError, match="job/train is still running"):
        await sw.sdk.rerun("train")

    sw.clock.advance(30)
    sw.fake.exit(unit, 3)
    await sw.until_phase("job", "train", "Failed")
    await sw.step()  # its unit is forgotten, as for any finished job

    queued = await sw.sdk.rerun("train")
    assert queued.phase == "Pending"
    assert queued.status["reason"] == "Rerun"
    assert queued.status["run"] == 2
    [earlier] = queued.status["history"]
    assert earlier["run"] == 1
    assert earlier["phase"] == "Failed"
    assert earlier["reason"] == "BackoffLimitExceeded"
    events = await sw.events("job", "train")
    assert events[-1].reason == "Rerun"
    assert "run 2 requested (after run 1 Failed (BackoffLimitExceeded))" in events[-1].message

    await sw.until_phase("job", "train", "Running")
    assert len(sw.fake.started) == 2
    sw.fake.write_log(unit, b"run 2: loss 0.1\n")
    assert await logs(sw, previous=True) == b"run 1: loss nan\n"
    assert await logs(sw, previous=False) == b"run 2: loss 0.1\n"

    sw.clock.advance(30)
    sw.fake.exit(unit, 0)
    await sw.until_phase("job", "train", "Succeeded")
    done = await sw.get("job", "train")
    assert done.status["run"] == 2
    assert done.status["succeeded"] == 1
    assert done.status["failures"] == 0
    assert [h["phase"] for h in done.status["history"]] == ["Failed"]

    third = await sw.sdk.rerun("train")
    assert third.status["run"] == 3
    assert [h["phase"] for h in third.status["history"]] == ["Failed", "Succeeded"]


async def test_a_pending_job_is_not_rerun(sw: Harness) -> None:
    await sw.apply(job("train"))
    with pytest.raises(ConflictError, match=r"job/train has not finished yet \(Pending\)"):
        await sw.sdk.rerun("train")
