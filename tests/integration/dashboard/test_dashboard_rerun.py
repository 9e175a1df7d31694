"""The job page's Rerun button: shown for a finished job, posts with CSRF, keeps history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from sapwood.server.store.tables import ObjectRow
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api, job

pytestmark = pytest.mark.anyio
BASE = "/ui/workloads/jobs/default/train"
FAILED = {
    "phase": "Failed",
    "reason": "BackoffLimitExceeded",
    "message": "replica 0 exited with code 3 (Error); retries allowed: 0",
    "finishedAt": "2026-03-01T09:02:00+00:00",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"


async def set_status(api: Api, name: str, status: dict[str, Any]) -> None:
    """As the controller leaves a job that ran (no controller runs here)."""
    sessions = api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    async with sessions() as session:
        await session.execute(update(ObjectRow).where(ObjectRow.name == name).values(status=status))
        await session.commit()


async def test_a_failed_job_is_rerun_from_its_page(api: Api, browser: Browser) -> None:
    await api.admin.apply([job("train")])
    await set_status(api, "train", FAILED)
    async with browser(api.admin_token) as client:
        page = await client.get(BASE)
        assert "Rerun job" in page.text
        csrf = csrf_of(page.text)
        assert (await client.post(f"{BASE}/rerun", data={})).status_code == 403
        rerun = await client.post(f"{BASE}/rerun", data={"csrf": csrf})
        assert rerun.status_code == 303
        assert rerun.headers["location"] == BASE
        after = (await client.get(BASE)).text

    obj = await api.admin.get("job", "train")
    assert obj.phase == "Pending"
    assert obj.status["run"] == 2
    assert "Rerun job" not in after  # it has not finished again
    assert "Earlier runs" in after
    assert "BackoffLimitExceeded" in after
    assert "2026-03-01 09:02:00" in after
    assert "Rerun" in [e.reason for e in await api.admin.events("job", "train")]


async def test_an_unfinished_job_has_no_rerun_button_and_is_refused(
    api: Api, browser: Browser
) -> None:
    await api.admin.apply([job("train")])
    await set_status(api, "train", {"phase": "Running"})
    async with browser(api.admin_token) as client:
        page = await client.get(BASE)
        refused = await client.post(f"{BASE}/rerun", data={"csrf": csrf_of(page.text)})
    assert "Rerun job" not in page.text
    assert refused.status_code == 409
    assert "job/train is still running" in refused.text
