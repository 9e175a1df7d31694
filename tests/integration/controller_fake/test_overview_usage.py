"""The dashboard overview's "Used" figures when only some workloads have been sampled."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.controller_fake.conftest import Harness, key
from tests.integration.controller_fake.observing import sample
from tests.support import workspace

pytestmark = pytest.mark.anyio


async def page_text(sw: Harness, path: str = "/") -> str:
    """A dashboard page as the admin sees it."""
    async with httpx.AsyncClient(
        transport=sw.api.transport, base_url="http://sapwood.test"
    ) as client:
        signed_in = await client.post("/ui/login", data={"token": sw.api.admin_token, "next": "/"})
        assert signed_in.status_code == 303, signed_in.text
        page = await client.get(path)
    assert page.status_code == 200
    return page.text


async def test_one_unsampled_workload_leaves_the_team_figure_measured(sw: Harness) -> None:
    await sw.apply(workspace("lab", resources={"cpu": 1, "memory": "1Gi"}, idleTimeout=None))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=50.0, memory_bytes=1024)
    await sample(sw)
    # Started after the last sample: no series at all yet.
    await sw.apply(workspace("new", resources={"cpu": 1, "memory": "1Gi"}, idleTimeout=None))
    await sw.until_phase("Workspace", "new", "Running")
    text = await page_text(sw)
    assert "0.5 cores (partial: 1 of 2 measured)" in text
    assert "1.0 KiB (partial: 1 of 2 measured)" in text
