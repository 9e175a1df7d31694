"""Scheduling on the real local runtime: inference yields to research, quotas, the queue."""

from __future__ import annotations

import sys

import pytest

from sapwood.client import ForbiddenError
from sapwood.schemas import Object
from sapwood.testing.waiting import eventually
from tests.support import Api, job, service

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SLEEP = [sys.executable, "-c", "import time; time.sleep(600)"]


async def _get(api: Api, kind: str, name: str) -> Object:
    return await api.admin.get(kind, name)


async def test_a_job_preempts_elastic_replicas_which_grow_back_after(live_api: Api) -> None:
    capacity = await live_api.transport.app.state.sapwood.controller.runtime.capacity()  # type: ignore[attr-defined]
    quarter = capacity.cpu_millis // 4
    spec = {"command": SLEEP, "replicas": {"min": 1, "max": 4}, "resources": {"cpu": f"{quarter}m"}}
    await live_api.admin.apply([service("infer", **spec)])
    full = await eventually(
        lambda: _get(live_api, "service", "infer"),
        lambda o: len([r for r in o.status.get("replicas", []) if r.get("pid")]) == 4,
        what="the service to grow to max on idle capacity",
    )
    assert full.status["elasticReplicas"] == 3

    research = job("train", command=[sys.executable, "-c", "import time; time.sleep(2)"])
    research["spec"]["resources"] = {"cpu": f"{2 * quarter}m"}
    await live_api.admin.apply([research])
    shrunk = await eventually(
        lambda: _get(live_api, "service", "infer"),
        lambda o: o.status.get("elasticReplicas") == 1,
        what="two elastic replicas reclaimed for the job",
    )
    assert shrunk.phase == "Running"
    await eventually(
        lambda: _get(live_api, "job", "train"), lambda o: o.phase == "Succeeded", what="the job"
    )
    train_events = [e.reason for e in await live_api.admin.events("job", "train")]
    assert "Admitted" in train_events
    infer_events = [e for e in await live_api.admin.events("service", "infer")]
    assert any(
        e.reason == "Preempted" and "job/default/train" in e.message for e in infer_events
    ), [(e.reason, e.message) for e in infer_events]

    await eventually(
        lambda: _get(live_api, "service", "infer"),
        lambda o: o.status.get("elasticReplicas") == 3,
        what="the service to grow back after the job",
    )


async def test_queue_says_who_waits_and_why(live_api: Api) -> None:
    capacity = await live_api.transport.app.state.sapwood.controller.runtime.capacity()  # type: ignore[attr-defined]
    whole = {"cpu": f"{capacity.cpu_millis}m"}
    await live_api.admin.apply([job("big", command=SLEEP, resources=whole)])
    await eventually(lambda: _get(live_api, "job", "big"), lambda o: o.phase == "Running")
    small = {"cpu": "100m"}
    await live_api.admin.apply(
        [
            job("later", command=SLEEP, resources=small, priority="low"),
            job("sooner", command=SLEEP, resources=small),
        ]
    )
    queue = await eventually(
        lambda: live_api.admin.queue(),
        lambda q: [e.name for e in q] == ["sooner", "later"] and all(e.position for e in q),
        what="both jobs queued, normal priority before low",
    )
    assert [e.position for e in queue] == [1, 2]
    assert queue[0].reason == "needs 100m cpu; the largest free on any node is 0"

    # Higher priority preempts: big goes back to the queue, urgent runs, the rest fit.
    await live_api.admin.apply([job("urgent", command=SLEEP, resources=small, priority="high")])
    big = await eventually(
        lambda: _get(live_api, "job", "big"),
        lambda o: o.status.get("reason") == "Preempted",
        what="big to be preempted",
    )
    assert big.phase == "Pending"
    assert "preempted by job/default/urgent" in big.status["message"]
    await eventually(lambda: _get(live_api, "job", "urgent"), lambda o: o.phase == "Running")
    events = [e.reason for e in await live_api.admin.events("job", "big")]
    assert "Preempted" in events
    assert "Failed" not in events


async def test_quotas_are_admin_only_and_cap_a_team(live_api: Api) -> None:
    await live_api.admin.create_team("research")
    await live_api.admin.create_user("ada", teams={"research": "member"})
    ada = live_api.client((await live_api.admin.create_token(user="ada")).token)
    with pytest.raises(ForbiddenError):
        await ada.set_quota("research", max={"cpu": 1})
    quota = await live_api.admin.set_quota("research", guaranteed={"cpu": "500m"}, max={"cpu": 1})
    assert quota.max is not None
    assert quota.max.cpu == 1000
    assert quota.max.memory is None  # not capped
    assert [q.team for q in await ada.list_quotas()] == ["research"]

    await ada.apply([job("a", team="research", command=SLEEP, resources={"cpu": 1})])
    await ada.apply([job("b", team="research", command=SLEEP, resources={"cpu": "100m"})])
    waiting = await eventually(
        lambda: ada.get("job", "b"),
        lambda o: "quota" in str(o.status.get("message", "")),
        what="job b to wait on the team's quota",
    )
    assert waiting.status["message"].startswith("team research is at its cpu quota (1 of 1")
    await ada.aclose()
