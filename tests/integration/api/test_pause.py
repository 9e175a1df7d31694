"""POST /{plural}/{name}/pause and /resume through the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from sapwood.client import InvalidError, NotFoundError
from sapwood.server.store.tables import ObjectRow
from tests.support import Api, job, service, workspace

pytestmark = pytest.mark.anyio


async def test_pause_sets_spec_paused_once(api: Api) -> None:
    await api.admin.apply([workspace("lab")])
    paused = await api.admin.pause("workspace", "lab")
    assert paused.spec["paused"] is True
    assert paused.metadata.generation == 2
    again = await api.admin.pause("workspace", "lab")
    assert again.metadata.resource_version == paused.metadata.resource_version  # idempotent
    reasons = [e.reason for e in await api.admin.events("workspace", "lab")]
    assert reasons.count("PauseRequested") == 1


async def test_a_service_can_be_paused_and_resumed(api: Api) -> None:
    await api.admin.apply([service("web")])
    assert (await api.admin.pause("svc", "web")).spec["paused"] is True
    assert (await api.admin.resume("svc", "web")).spec["paused"] is False


async def test_resume_clears_an_idle_pause(api: Api) -> None:
    await api.admin.apply([workspace("lab")])
    # As the controller leaves an idle workspace: status only, the spec untouched.
    sessions = api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    async with sessions() as session:
        await session.execute(
            update(ObjectRow)
            .where(ObjectRow.name == "lab")
            .values(status={"phase": "Paused", "reason": "IdlePaused", "message": "idle"})
        )
        await session.commit()
    resumed = await api.admin.resume("workspace", "lab")
    assert resumed.status["phase"] == "Paused"  # the controller moves it to Pending
    assert resumed.status["reason"] == "ResumeRequested"
    assert resumed.metadata.generation == 1  # the spec did not change


async def test_a_job_cannot_be_paused(api: Api) -> None:
    await api.admin.apply([job("train")])
    with pytest.raises(InvalidError, match="only workspaces and services"):
        await api.admin.pause("job", "train")


async def test_a_missing_object_is_404(api: Api) -> None:
    with pytest.raises(NotFoundError, match="workspace/nope not found"):
        await api.admin.resume("workspace", "nope")
