"""Autoscaled services follow the gateway's load, on the FakeRuntime and a FakeClock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.server.controller.plan.autoscaler import Load, Second
from sapwood.server.controller.plan.scaling import Loads
from tests.integration.controller_fake.conftest import Harness
from tests.support import service

pytestmark = pytest.mark.anyio


class Traffic:
    """A stand-in for the gateway: steady concurrency per service, settable by the test."""

    def __init__(self, sw: Harness) -> None:
        self.sw = sw
        self.concurrency: dict[str, float] = {}
        self.held: dict[str, int] = {}
        self.reachable = True

    async def __call__(self) -> Loads | None:
        if not self.reachable:
            return None
        now = self.sw.clock.now()
        out: dict[tuple[str, str], Load] = {}
        for name in set(self.concurrency) | set(self.held):
            level = self.concurrency.get(name, 0.0)
            seconds = [Second(now - timedelta(seconds=s), 0, level) for s in range(1, 61)]
            last = now if level else None
            held = self.held.get(name, 0)
            out[("default", name)] = Load(seconds, held=held, last_request_at=last)
        return out


def autoscaled(name: str, *, lo: int, hi: int, **extra: object) -> dict[str, object]:
    return service(
        name,
        replicas={"min": lo, "max": hi},
        resources={"cpu": "100m", "memory": "64Mi"},
        autoscale={"target": 10, "scaleToZeroGrace": "30s"},
        **extra,
    )


async def replicas(sw: Harness, name: str) -> int:
    return int((await sw.get("service", name)).status.get("readyReplicas", 0))


async def test_replicas_follow_load_up_and_down(sw: Harness) -> None:
    traffic = Traffic(sw)
    sw.manager.load_source = traffic
    await sw.apply(autoscaled("api", lo=1, hi=5))
    await sw.step(3)
    assert await replicas(sw, "api") == 1

    traffic.concurrency["api"] = 38.0  # wants 4
    await sw.step(4)
    api = await sw.get("service", "api")
    assert api.status["readyReplicas"] == 4
    assert api.status["autoscaler"]["desired"] == 4
    assert "Autoscaled" in await sw.reasons("service", "api")

    traffic.concurrency["api"] = 5.0  # panic has passed once a calm window goes by
    sw.clock.advance(61)
    await sw.step(4)
    assert await replicas(sw, "api") == 1


async def test_a_service_at_min_zero_sleeps_and_wakes_on_a_held_request(sw: Harness) -> None:
    traffic = Traffic(sw)
    sw.manager.load_source = traffic
    traffic.concurrency["api"] = 3.0
    await sw.apply(autoscaled("api", lo=0, hi=3))
    await sw.step(4)
    assert await replicas(sw, "api") == 1

    traffic.concurrency["api"] = 0.0
    sw.clock.advance(5)
    await sw.step(2)
    assert await replicas(sw, "api") == 1  # inside the grace period
    sw.clock.advance(40)
    await sw.step(3)
    api = await sw.get("service", "api")
    assert api.status.get("readyReplicas", 0) == 0
    assert "scale to zero" in api.status["autoscaler"]["reason"]

    traffic.held["api"] = 2
    await sw.step(4)
    assert await replicas(sw, "api") == 1


async def test_unreachable_gateway_holds_the_replicas(sw: Harness) -> None:
    traffic = Traffic(sw)
    sw.manager.load_source = traffic
    traffic.concurrency["api"] = 25.0
    await sw.apply(autoscaled("api", lo=1, hi=5))
    await sw.step(5)
    assert await replicas(sw, "api") == 3

    traffic.reachable = False
    sw.clock.advance(120)
    await sw.step(3)
    assert await replicas(sw, "api") == 3
