"""Services and workspaces end to end on the FakeRuntime."""

from __future__ import annotations

import pytest

from sapwood.server.controller.plan.rollout import SURGE
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import service, workspace

pytestmark = pytest.mark.anyio


async def test_a_crashed_replica_restarts_alone_after_backoff(sw: Harness) -> None:
    await sw.apply(service("web", replicas=2))
    await sw.step(2)

    web = await sw.get("service", "web")
    assert web.phase == "Running"
    assert web.status["readyReplicas"] == 2
    assert len(web.status["endpoints"]) == 2
    assert {u.key.replica for u in sw.fake.started} == {0, 1}
    assert all(u.wants_port for u in sw.fake.started)

    sw.clock.advance(60)
    sw.fake.crash(key("Service", "web", 1))
    await sw.step()

    web = await sw.get("service", "web")
    assert web.status["readyReplicas"] == 1
    assert web.status["message"] == "1/2 replicas ready"
    assert (await sw.events("service", "web"))[-1].reason == "BackOff"

    sw.clock.advance(10)
    await sw.step(2)

    assert [u.key.replica for u in sw.fake.started] == [0, 1, 1]
    assert sw.fake.stopped == []
    assert (await sw.get("service", "web")).status["readyReplicas"] == 2


async def test_a_spec_change_rolls_replicas_one_at_a_time(sw: Harness) -> None:
    await sw.apply(service("web", replicas=2))
    await sw.step(2)

    before, started_before = len(sw.fake.actions), len(sw.fake.started)
    await sw.apply(service("web", replicas=2, env={"VERSION": "2"}))

    async def rolled() -> bool:
        web = await sw.get("service", "web")
        seen = web.status.get("observedGeneration") == web.metadata.generation
        return seen and "rollout" not in web.status and web.status["readyReplicas"] == 2

    await sw.until(rolled, passes=10)
    # An extra replica of the new spec comes first, before any old one stops.
    assert sw.fake.actions[before] == ("start", key("Service", "web", SURGE))
    assert sw.fake.started[started_before].env["VERSION"] == "2"
    versions = sorted(u.env.get("VERSION", "1") for u in sw.fake.started)
    assert versions == ["1", "1", "2", "2", "2"]  # two replaced, one surge
    assert key("Service", "web", SURGE) in sw.fake.stopped
    assert "Rollout" in await sw.reasons("service", "web")


async def test_a_workspace_pauses_and_resumes(sw: Harness) -> None:
    await sw.apply(workspace("nb"))
    await sw.step(2)
    nb = await sw.get("workspace", "nb")
    assert nb.phase == "Running"
    assert nb.status["url"].startswith("http://127.0.0.1:")

    await sw.apply(workspace("nb", paused=True))
    await sw.until_phase("workspace", "nb", "Paused")
    await sw.step()
    assert sw.fake.stopped == [key("Workspace", "nb")]
    assert sw.fake.state(key("Workspace", "nb")) is None

    sw.clock.advance(60)
    await sw.apply(workspace("nb", paused=False))
    await sw.until_phase("workspace", "nb", "Running")
    assert len(sw.fake.started) == 2
    assert in_order(["Paused", "Resuming", "Admitted"], await sw.reasons("workspace", "nb"))


def in_order(wanted: list[str], seen: list[str]) -> bool:
    rest = iter(seen)
    return all(reason in rest for reason in wanted)
