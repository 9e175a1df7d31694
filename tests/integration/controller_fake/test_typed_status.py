"""What the controller writes reads as its kind's status type, whole: parse then dump gives
back the same JSON, and no key passes through untyped. A key the controller starts to write
without a field in sapwood/schemas/status.py fails here."""

from __future__ import annotations

import pytest

from sapwood.schemas import (
    FeedStatus,
    JobStatus,
    Object,
    Phase,
    ServiceStatus,
    WorkspaceStatus,
    dump_status,
)
from sapwood.testing.documents import feed, job, service, workspace
from tests.integration.controller_fake.conftest import Harness, key

pytestmark = pytest.mark.anyio

TYPES = {
    "Job": JobStatus,
    "Service": ServiceStatus,
    "Workspace": WorkspaceStatus,
    "Feed": FeedStatus,
}


async def _every_status_is_typed(sw: Harness) -> list[Object]:
    objects = [o for kind in TYPES for o in await sw.sdk.list(kind)]
    for obj in objects:
        typed = obj.typed_status
        assert type(typed) is TYPES[obj.kind]
        assert not typed.model_extra, f"{obj.kind}/{obj.metadata.name}: {typed.model_extra}"
        assert dump_status(typed) == obj.status
    return objects


async def test_the_statuses_of_every_kind_read_typed(sw: Harness) -> None:
    await sw.apply(
        job("done", replicas=2),
        job("retried", retries=1),
        service("web", replicas={"min": 1, "max": 2}),
        workspace("scratch"),
        feed("traffic", workers={"min": 1, "max": 2}),  # its model does not exist
    )
    await sw.step(3)
    await _every_status_is_typed(sw)

    sw.clock.advance(5)
    sw.fake.exit(key("Job", "done", 0), 0)
    sw.fake.exit(key("Job", "retried", 0), 3)  # backs off, then runs again
    sw.fake.crash(key("Service", "web", 0))
    await sw.step(2)
    await _every_status_is_typed(sw)

    sw.clock.advance(60)
    sw.fake.exit(key("Job", "done", 1), 0)
    await sw.step(3)
    objects = await _every_status_is_typed(sw)

    phases = {(o.kind, o.metadata.name): o.phase for o in objects}
    assert phases[("Job", "done")] is Phase.SUCCEEDED
    assert phases[("Feed", "traffic")] is Phase.DEGRADED
    web = await sw.get("service", "web")
    assert isinstance(web.typed_status, ServiceStatus)
    assert web.typed_status.target is not None
    # min 1, and one elastic replica on idle capacity: decided, apart from readyReplicas
    assert web.typed_status.elastic_replicas == 1
    assert web.typed_status.target.replicas == 2
    assert "desiredReplicas" not in web.status
