"""The controller's work follows changes: notifications drive it, idle objects cost nothing,
a write nobody announced is caught by the slow resync, and what fits nowhere waits parked
until capacity grows.

The controller's waits are on the fake clock: nothing here advances it unless the test
says so, so a round that happens without an advance was started by a change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import Object
from sapwood.server.runtimes.base import Capacity
from sapwood.server.settings import ControllerSettings
from sapwood.server.store.engine import AsyncSession, create_engine, session_factory
from sapwood.server.store.tables import ObjectRow
from sapwood.testing.waiting import eventually
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import job

pytestmark = pytest.mark.anyio

GI = 1024**3
RESYNC_S = ControllerSettings().resync_s
NO_GPUS = Capacity(cpu_millis=8000, memory_bytes=32 * GI, gpus=0)
ADMITTED = {"Admitted", "Running"}


def gpu_job(name: str) -> dict[str, object]:
    return job(name, resources={"gpu": 1})


@pytest.fixture
async def unannounced(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the server's database that tell no one what they write (no change
    feed, no NOTIFY): a writer that forgot ``note_changed``."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def waits_with_message(sw: Harness, name: str) -> Object:
    async def probe() -> Object:
        return await sw.get("job", name)

    return await eventually(
        probe,
        lambda o: o.phase == "Pending" and "message" in o.status,
        what=f"job {name} waiting with a reason",
    )


async def test_an_apply_is_admitted_by_its_notification_without_time_passing(
    sw: Harness,
) -> None:
    before = sw.clock.monotonic()

    await sw.apply(job("train"))  # no step, no clock advance: only the notification

    async def phase() -> str:
        return await sw.phase("job", "train")

    await eventually(phase, lambda p: p in ADMITTED, what="job train admitted")
    assert [u.key.name for u in sw.fake.started] == ["train"]
    assert sw.clock.monotonic() == before  # the resync (60 s of fake time) never came due


async def test_idle_objects_cost_nothing_and_a_change_costs_little(sw: Harness) -> None:
    sw.fake.set_capacity(NO_GPUS)
    names = [f"gpu-{n:03d}" for n in range(200)]
    await sw.apply(*(gpu_job(name) for name in names))

    async def all_waiting() -> list[Object]:
        return await sw.sdk.list("job")

    await eventually(
        all_waiting,
        lambda objs: (
            len(objs) == 200 and all(o.phase == "Pending" and "message" in o.status for o in objs)
        ),
        what="all 200 jobs waiting with a reason",
    )
    await sw.step(2)  # whatever the last writes asked for follows up
    planned = sw.manager.planned

    await sw.step(5)
    sw.clock.advance(RESYNC_S / 2)  # time passes, but no resync is due yet
    await sw.step(5)
    assert sw.manager.planned == planned  # nothing changed: nothing planned

    await sw.apply(gpu_job("one-more"))
    await waits_with_message(sw, "one-more")
    await sw.step(2)
    grew = sw.manager.planned - planned
    assert 1 <= grew <= 10  # the new job's work, not another pass over the 200
    assert sw.fake.started == []


async def test_a_write_nobody_announced_is_seen_at_the_next_resync(
    sw: Harness, unannounced: async_sessionmaker[AsyncSession]
) -> None:
    sw.fake.set_capacity(NO_GPUS)
    await sw.apply(gpu_job("quiet"))
    await waits_with_message(sw, "quiet")

    # Someone changes the stored spec (it no longer asks for a GPU) without telling.
    async with unannounced() as session, session.begin():
        row = await session.scalar(select(ObjectRow).where(ObjectRow.name == "quiet"))
        assert row is not None
        resources = dict(row.spec.get("resources") or {})
        resources["gpu"] = 0
        row.spec = {**row.spec, "resources": resources}
        row.generation += 1
        row.resource_version += 1

    # Rounds run and time passes, short of the resync: the controller has not heard.
    await sw.step(3)
    sw.clock.advance(RESYNC_S / 2)
    await sw.step(3)
    assert await sw.phase("job", "quiet") == "Pending"
    assert sw.fake.started == []

    sw.clock.advance(RESYNC_S / 2 + 1)  # past the resync: the store is compared whole

    async def phase() -> str:
        await sw.step()
        return await sw.phase("job", "quiet")

    await eventually(phase, lambda p: p in ADMITTED, what="job quiet admitted after resync")
    assert [u.key.name for u in sw.fake.started] == ["quiet"]


async def test_a_row_removed_behind_the_controllers_back_stops_its_units_after_a_resync(
    sw: Harness, unannounced: async_sessionmaker[AsyncSession]
) -> None:
    await sw.apply(job("orphaned"))
    await sw.until_phase("job", "orphaned", "Running")
    unit = key("Job", "orphaned")

    async with unannounced() as session, session.begin():
        await session.execute(delete(ObjectRow).where(ObjectRow.name == "orphaned"))

    sw.clock.advance(RESYNC_S + 1)  # the resync finds the row gone: its unit has no owner

    async def stopped() -> bool:
        await sw.step()
        return sw.fake.state(unit) is None

    await eventually(stopped, what="the orphaned unit stopped and forgotten")
    assert sw.fake.stopped == [unit]


async def test_what_fits_nowhere_waits_without_a_place_in_line_until_capacity_grows(
    sw: Harness,
) -> None:
    sw.fake.set_capacity(NO_GPUS)
    await sw.apply(gpu_job("big"))

    big = await waits_with_message(sw, "big")
    assert "queuePosition" not in big.status  # it waits for capacity, not for a turn
    await sw.step(3)
    assert await sw.phase("job", "big") == "Pending"
    assert sw.fake.started == []

    sw.fake.set_capacity(Capacity(cpu_millis=8000, memory_bytes=32 * GI, gpus=1))
    await sw.until_phase("job", "big", "Running")

    assert [u.key.name for u in sw.fake.started] == ["big"]
    assert "queuePosition" not in (await sw.get("job", "big")).status
