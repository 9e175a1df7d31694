"""POST /jobs/{name}/rerun through the SDK, on SQLite and PostgreSQL (no controller runs)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from sapwood.client import ConflictError, NotFoundError
from sapwood.server.store.tables import ObjectRow
from tests.support import Api, job, service

pytestmark = pytest.mark.anyio


async def finish(api: Api, name: str, status: dict[str, object]) -> None:
    """As the controller leaves a job that ran."""
    sessions = api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    async with sessions() as session:
        await session.execute(update(ObjectRow).where(ObjectRow.name == name).values(status=status))
        await session.commit()


async def test_a_succeeded_job_is_queued_again_with_the_same_spec(api: Api) -> None:
    await api.admin.apply([job("train")])
    created = await api.admin.get("job", "train")
    await finish(api, "train", {"phase": "Succeeded", "reason": "Completed", "succeeded": 1})

    queued = await api.admin.rerun("train")

    assert queued.phase == "Pending"
    assert queued.status["run"] == 2
    assert queued.status["history"] == [
        {"run": 1, "phase": "Succeeded", "reason": "Completed", "succeeded": 1}
    ]
    assert "succeeded" not in queued.status
    assert queued.metadata.generation == created.metadata.generation
    with pytest.raises(ConflictError, match=r"has not finished yet \(Pending\)"):
        await api.admin.rerun("train")


async def test_a_rerun_names_only_jobs(api: Api) -> None:
    await api.admin.apply([service("web")])
    with pytest.raises(NotFoundError, match="job/web not found"):
        await api.admin.rerun("web")
