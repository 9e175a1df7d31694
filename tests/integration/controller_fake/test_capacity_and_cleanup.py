"""Waiting for capacity, deletion of running objects, and units nobody owns."""

from __future__ import annotations

import pytest

from sapwood.server.runtimes.base import Capacity, UnitSpec
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import job

pytestmark = pytest.mark.anyio

GI = 1024**3


async def test_a_job_waits_for_capacity_with_a_reason_then_starts(sw: Harness) -> None:
    sw.fake.set_capacity(Capacity(cpu_millis=2000, memory_bytes=4 * GI, gpus=0))
    await sw.apply(job("first", resources={"cpu": "1500m"}))
    sw.clock.advance(1)  # queued after "first"
    await sw.apply(job("second", resources={"cpu": "1"}))

    await sw.step()

    assert await sw.phase("job", "first") == "Running"
    second = await sw.get("job", "second")
    assert second.phase == "Pending"
    assert second.status["reason"] == "Waiting"
    assert second.status["message"] == ("needs 1 cpu; the largest free on any node is 500m")
    assert [u.key.name for u in sw.fake.started] == ["first"]

    await sw.step(2)
    assert [u.key.name for u in sw.fake.started] == ["first"]

    sw.clock.advance(60)
    sw.fake.exit(key("Job", "first"), 0)
    await sw.until_phase("job", "second", "Running")

    assert [u.key.name for u in sw.fake.started] == ["first", "second"]
    assert "message" not in (await sw.get("job", "second")).status


async def test_a_job_larger_than_the_whole_capacity_says_so(sw: Harness) -> None:
    sw.fake.set_capacity(Capacity(cpu_millis=2000, memory_bytes=4 * GI, gpus=0))
    await sw.apply(job("huge", replicas=3, resources={"cpu": "1"}))

    await sw.step()

    huge = await sw.get("job", "huge")
    assert huge.phase == "Pending"
    assert huge.status["message"] == (
        "needs 3 cpu, 1536Mi memory for all 3 replicas at once, "
        "more than the whole cluster has (2 cpu, 4Gi memory)"
    )
    assert sw.fake.started == []


async def test_deleting_a_running_job_stops_its_unit_then_removes_it(sw: Harness) -> None:
    await sw.apply(job("train"))
    await sw.step()
    unit = key("Job", "train")

    deleted = await sw.sdk.delete("job", "train")
    assert deleted.finished is False
    assert deleted.object.phase == "Terminating"  # until the controller has stopped it

    async def gone() -> bool:
        return not await sw.exists("job", "train")

    await sw.until(gone)
    assert sw.fake.stopped == [unit]
    assert sw.fake.state(unit) is None
    assert len(sw.fake.started) == 1


async def test_a_unit_without_an_object_is_stopped_and_forgotten(sw: Harness) -> None:
    ghost = key("Job", "ghost")
    await sw.fake.start(UnitSpec(ghost, ("sleep", "3600"), {}))
    await sw.apply(job("kept"))

    async def settled() -> bool:  # the ghost forgotten, the object's own unit started
        return sw.fake.state(ghost) is None and sw.fake.state(key("Job", "kept")) is not None

    await sw.until(settled)
    assert sw.fake.stopped == [ghost]
    assert sw.fake.forgotten == [ghost]
