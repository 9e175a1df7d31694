"""A paused Service or Workspace shows no ready replica and no endpoint; resuming brings
them back only as replicas pass readiness; resuming a Failed one restarts it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sapwood.cli.pause import resume_text
from sapwood.server.runtimes.base import UnitReason
from sapwood.server.store.tables import ObjectRow
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import service, workspace

pytestmark = pytest.mark.anyio


async def test_a_paused_service_lists_no_ready_replica_and_no_endpoint(sw: Harness) -> None:
    await sw.apply(service("api", replicas=2))
    await sw.until_phase("Service", "api", "Running")
    await sw.step(2)
    assert (await sw.get("Service", "api")).status["readyReplicas"] == 2
    await sw.sdk.pause("svc", "api")
    await sw.until_phase("Service", "api", "Paused")
    status = (await sw.get("Service", "api")).status
    assert status["readyReplicas"] == 0
    assert "endpoints" not in status
    assert not [r for r in status.get("replicas", []) if r.get("ready") or r["state"] == "Running"]

    resumed = (await sw.sdk.resume("svc", "api")).status  # as the resume wrote it
    assert resumed.get("readyReplicas", 0) == 0
    assert "endpoints" not in resumed
    await sw.until_phase("Service", "api", "Running")
    await sw.step(3)
    status = (await sw.get("Service", "api")).status
    ready = [r for r in status["replicas"] if r.get("ready")]
    assert status["readyReplicas"] == len(ready) == 2


async def test_a_paused_workspace_lists_no_running_replica(sw: Harness) -> None:
    await sw.apply(workspace("lab", idleTimeout=None))
    await sw.until_phase("Workspace", "lab", "Running")
    await sw.sdk.pause("ws", "lab")
    await sw.until_phase("Workspace", "lab", "Paused")
    status = (await sw.get("Workspace", "lab")).status
    assert status["readyReplicas"] == 0
    assert "url" not in status
    assert not [r for r in status.get("replicas", []) if r["state"] == "Running"]


async def test_resume_restarts_a_failed_service(sw: Harness) -> None:
    await sw.apply(service("api"))
    await sw.until_phase("Service", "api", "Running")
    uid = (await sw.get("Service", "api")).metadata.uid
    sessions = sw.api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    async with sessions() as session:  # as the controller writes a replica it cannot start
        row = await session.scalar(select(ObjectRow).where(ObjectRow.uid == uid))
        assert row is not None
        row.status = {**row.status, "phase": "Failed", "reason": "InvalidSpec"}
        row.resource_version += 1
        await session.commit()
    sw.fake.crash(key("Service", "api"), reason=UnitReason.KILLED)
    await sw.step()
    assert await sw.phase("Service", "api") == "Failed"

    answer = await sw.sdk.resume("svc", "api")
    assert resume_text(answer) == "service/api restarts after failing (waiting for admission)"
    await sw.until_phase("Service", "api", "Running")
    assert "restart requested after failing" in " ".join(
        e.message for e in await sw.events("Service", "api")
    )


async def test_resume_of_a_running_service_says_there_is_nothing_to_do(sw: Harness) -> None:
    await sw.apply(service("api"))
    await sw.until_phase("Service", "api", "Running")
    answer = await sw.sdk.resume("svc", "api")
    assert resume_text(answer) == "service/api is not paused (Running): nothing to resume"
