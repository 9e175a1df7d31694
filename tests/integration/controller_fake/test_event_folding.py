"""Repeated identical events fold into one with a count, first and last seen; the notifier
posts a folded repeat once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sapwood.cli.describe import describe_text
from sapwood.schemas import EventType
from sapwood.server.runtimes.base import RuntimeTemporaryError
from sapwood.server.services.events import record_event
from sapwood.server.store.tables import ObjectRow
from tests.integration.controller_fake.conftest import Harness
from tests.integration.controller_fake.observing import notify
from tests.integration.controller_fake.test_idle import Receiver, receiver
from tests.integration.controller_fake.test_overview_usage import page_text
from tests.support import service, workspace

pytestmark = pytest.mark.anyio
__all__ = ["receiver"]  # the fixture, used by name


async def test_a_start_delayed_every_pass_is_one_event_with_a_count(sw: Harness) -> None:
    await sw.apply(workspace("lab", idleTimeout=None))
    for _ in range(4):
        sw.fake.fail_next_start(RuntimeTemporaryError("the supervisor is still starting"))
    await sw.step()
    for _ in range(3):  # rounds come at least this often; each start fails once
        sw.clock.advance(timedelta(seconds=5))
        await sw.step()
    delayed = [e for e in await sw.events("Workspace", "lab") if e.reason == "StartDelayed"]
    assert len(delayed) == 1
    [event] = delayed
    assert event.count == 4
    assert event.last_seen is not None
    assert event.first_seen is not None
    span = event.last_seen - event.first_seen
    assert timedelta(seconds=5) <= span <= timedelta(seconds=15)
    obj = await sw.get("Workspace", "lab")
    text = describe_text(obj, await sw.events("Workspace", "lab"), now=sw.clock.now())
    assert f"(x4 over {int(span.total_seconds())}s)" in text
    page = await page_text(sw, "/ui/workloads/workspaces/default/lab")
    first = event.created_at.strftime("%H:%M:%S")
    assert f'x4 since <time datetime="{event.created_at.isoformat()}">{first}</time>' in page
    await sw.until_phase("Workspace", "lab", "Running")


async def test_the_same_event_after_the_fold_window_is_a_new_one(sw: Harness) -> None:
    sw.fake.fail_next_start(RuntimeTemporaryError("busy"))
    await sw.apply(workspace("lab", idleTimeout=None))
    await sw.until_phase("Workspace", "lab", "Running")
    await sw.sdk.pause("workspace", "lab")
    await sw.until_phase("Workspace", "lab", "Paused")
    sw.clock.advance(timedelta(minutes=11))
    sw.fake.fail_next_start(RuntimeTemporaryError("busy"))
    await sw.sdk.resume("workspace", "lab")
    await sw.until_phase("Workspace", "lab", "Running")
    delayed = [e for e in await sw.events("Workspace", "lab") if e.reason == "StartDelayed"]
    assert [e.count for e in delayed] == [1, 1]


async def test_a_folded_repeat_is_notified_once(sw: Harness, receiver: Receiver) -> None:
    await sw.sdk.set_channel("hook", type="webhook", url=receiver.url)
    await sw.sdk.set_rule("sick", channel="hook", events=["service.unhealthy"])
    await sw.apply(service("api"))
    await sw.until_phase("Service", "api", "Running")
    await notify(sw)
    sessions = sw.api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    uid = (await sw.get("Service", "api")).metadata.uid
    for _ in range(3):  # as a probe that keeps failing the same way writes it
        sw.clock.advance(timedelta(seconds=10))
        async with sessions() as session:
            row = await session.scalar(select(ObjectRow).where(ObjectRow.uid == uid))
            assert row is not None
            await record_event(
                session,
                row,
                "ProbeFailed",
                "replica 0 liveness: HTTP 500",
                now=sw.clock.now(),
                type=EventType.WARNING,
            )
            await session.commit()
        await notify(sw)
    assert [b["reason"] for b in receiver.bodies] == ["ProbeFailed"]
    [event] = [e for e in await sw.events("Service", "api") if e.reason == "ProbeFailed"]
    assert event.count == 3
