"""A workspace's time to live end to end on the FakeRuntime and a fake clock: paused at
expiry with its volume kept, refused a resume until extended, then running again; and the
expiry of one that nothing else wakes comes from a timer, not from polling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.client import ConflictError
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import workspace

pytestmark = pytest.mark.anyio


async def test_an_expired_workspace_is_paused_and_runs_again_once_extended(sw: Harness) -> None:
    await sw.apply(workspace("lab", ttl="1h", idleTimeout=None))
    await sw.until_phase("Workspace", "lab", "Running")
    obj = await sw.get("Workspace", "lab")
    expires = obj.metadata.created_at + timedelta(hours=1)
    assert obj.status["expiresAt"] == expires.isoformat()

    sw.clock.advance(timedelta(minutes=59))
    await sw.step()
    assert await sw.phase("Workspace", "lab") == "Running"
    assert key("Workspace", "lab") not in sw.fake.stopped

    sw.clock.advance(timedelta(minutes=1))
    await sw.until_phase("Workspace", "lab", "Paused")
    obj = await sw.get("Workspace", "lab")
    assert obj.status["reason"] == "Expired"
    assert obj.status["message"] == (
        f"time to live 1h ran out at {expires:%Y-%m-%d %H:%M} UTC; extend it to use it again"
    )
    assert key("Workspace", "lab") in sw.fake.stopped
    assert obj.spec["paused"] is False  # the spec (and the volume) stay as they were
    assert "Expired" in await sw.reasons("Workspace", "lab")

    started = len(sw.fake.started)
    with pytest.raises(ConflictError, match="extend it before resuming"):
        await sw.sdk.resume("workspace", "lab")
    await sw.step(3)
    assert len(sw.fake.started) == started
    assert await sw.phase("Workspace", "lab") == "Paused"

    extended = await sw.sdk.extend("lab", by="1d", team="default")
    await sw.step(2)
    assert await sw.phase("Workspace", "lab") == "Paused"  # extending alone starts nothing
    assert len(sw.fake.started) == started
    assert (await sw.get("Workspace", "lab")).status["expiresAt"] == extended.status["expiresAt"]

    await sw.sdk.resume("workspace", "lab")
    await sw.until_phase("Workspace", "lab", "Running")
    assert len(sw.fake.started) == started + 1


async def test_a_workspace_nothing_wakes_expires_on_its_timer_without_being_polled(
    sw: Harness,
) -> None:
    await sw.apply(workspace("lab", ttl="2h", paused=True))
    await sw.until_phase("Workspace", "lab", "Paused")
    await sw.step(2)  # settled: its plans change nothing more

    planned = sw.manager.planned
    for _ in range(3):
        sw.clock.advance(timedelta(minutes=30))
        await sw.step()
    assert sw.manager.planned == planned  # waiting costs no pass over it

    sw.clock.advance(timedelta(minutes=30))
    await sw.step()
    obj = await sw.get("Workspace", "lab")
    assert (obj.phase, obj.status["reason"]) == ("Paused", "Expired")
