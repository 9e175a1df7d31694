"""Workload pages over HTTP: delete behind a confirmation, Resume for an idle-paused
workspace, canary replicas labelled as such."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from sapwood.server.settings import GatewaySettings, Settings
from sapwood.server.store.tables import ObjectRow
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api, job, service, workspace

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"


async def _set_status(api: Api, kind: str, name: str, status: dict[str, Any]) -> None:
    """What the controller would have written (no controller runs here)."""
    state = api.transport.app.state.sapwood  # type: ignore[attr-defined]
    async with state.sessions() as session:
        await session.execute(
            update(ObjectRow)
            .where(ObjectRow.kind == kind, ObjectRow.name == name)
            .values(status=status, resource_version=ObjectRow.resource_version + 1)
        )
        await session.commit()


async def test_delete_asks_first_needs_the_csrf_token_and_removes_the_job(
    api: Api, browser: Browser
) -> None:
    await api.admin.apply([job("train")])
    base = "/ui/workloads/jobs/default/train"
    async with browser(api.admin_token) as client:
        page = await client.get(base)
        # The button only opens the question; the form inside it deletes.
        confirm = re.search(r'<details class="danger">.*?</details>', page.text, re.S)
        assert confirm
        assert "<summary>Delete job…</summary>" in confirm.group(0)
        assert f'action="{base}/delete"' in confirm.group(0)
        assert "Yes, delete job/train" in confirm.group(0)
        assert (await client.post(f"{base}/delete", data={})).status_code == 403
        assert [o.metadata.name for o in await api.admin.list("job")] == ["train"]
        done = await client.post(f"{base}/delete", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/workloads"  # it never started: gone at once
    assert await api.admin.list("job") == []


async def test_a_running_workload_deleted_shows_terminating(api: Api, browser: Browser) -> None:
    await api.admin.apply([service("web")])
    await _set_status(api, "Service", "web", {"phase": "Running"})
    base = "/ui/workloads/services/default/web"
    async with browser(api.admin_token) as client:
        csrf = csrf_of((await client.get(base)).text)
        done = await client.post(f"{base}/delete", data={"csrf": csrf})
        assert done.headers["location"] == base
        page = await client.get(base)
    assert "Terminating" in page.text
    assert "Delete service…" not in page.text  # asked once is enough


async def test_an_idle_paused_workspace_offers_resume(api: Api, browser: Browser) -> None:
    await api.admin.apply([workspace("notebook")])
    idle = {"phase": "Paused", "reason": "IdlePaused", "message": "idle for 30m"}
    await _set_status(api, "Workspace", "notebook", idle)
    base = "/ui/workloads/workspaces/default/notebook"
    async with browser(api.admin_token) as client:
        page = await client.get(base)
        assert "Resume workspace" in page.text
        assert "Pause workspace" not in page.text
        resumed = await client.post(f"{base}/resume", data={"csrf": csrf_of(page.text)})
    assert resumed.status_code == 303
    assert (await api.admin.get("workspace", "notebook")).status["reason"] == "ResumeRequested"


async def test_canary_replicas_are_labelled(api: Api, browser: Browser) -> None:
    await api.admin.apply([service("web")])
    replicas = [
        {"index": 0, "state": "Running", "ready": True, "restarts": 0},
        {"index": 1, "state": "Running", "ready": True, "restarts": 2},
        {"index": 10000, "state": "Running", "ready": False, "restarts": 0},
    ]
    await _set_status(api, "Service", "web", {"phase": "Running", "replicas": replicas})
    async with browser(api.admin_token) as client:
        text = (await client.get("/ui/workloads/services/default/web")).text
    rows = re.findall(r"<tr[^>]*><td>(\d+)( <span class=\"tag\">canary</span>)?</td>", text)
    assert rows == [("0", ""), ("1", ""), ("10000", ' <span class="tag">canary</span>')]


class TestOpenWorkspace:
    """A workspace page links to the workspace through the gateway, where a running
    gateway is; its session cookie signs the member in there (tests/integration/gateway)."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"gateway": GatewaySettings(enabled=True, port=8499)})

    async def test_a_workspace_page_offers_open_through_the_gateway(
        self, api: Api, browser: Browser
    ) -> None:
        await api.admin.apply([workspace("notebook")])
        await _set_status(api, "Workspace", "notebook", {"phase": "Running"})
        async with browser(api.admin_token) as client:
            page = await client.get("/ui/workloads/workspaces/default/notebook")
        assert "Open workspace" in page.text
        assert 'href="http://sapwood.test:8499/w/default/notebook/"' in page.text


async def test_without_a_gateway_a_workspace_page_has_no_open_link(
    api: Api, browser: Browser
) -> None:
    await api.admin.apply([workspace("notebook")])
    await _set_status(api, "Workspace", "notebook", {"phase": "Running"})
    async with browser(api.admin_token) as client:
        page = await client.get("/ui/workloads/workspaces/default/notebook")
    assert "Open workspace" not in page.text
