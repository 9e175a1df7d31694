"""Idle pausing and under-utilisation end to end: FakeRuntime usage, a fake clock, and a
real local webhook receiver for the notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from sapwood.server.controller.plan.autoscaler import Load
from sapwood.server.controller.plan.scaling import Loads
from tests.integration.controller_fake.conftest import TEAM, Harness, key
from tests.integration.controller_fake.observing import (
    monitor_of,
    notify,
    notify_only_when_asked,
    sample,
)
from tests.support import service, workspace

pytestmark = pytest.mark.anyio


@dataclass
class Receiver:
    """A loopback HTTP/1.1 server that records JSON bodies and answers 200."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        )
        self.bodies.append(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    server = await asyncio.start_server(recv.handle, "127.0.0.1", 0)
    recv.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recv


async def watch(sw: Harness, *, minutes: int, every: int = 5) -> None:
    """Moves the fake clock ``every`` minutes at a time; after each, the monitor samples
    and the controller takes a round."""
    for _ in range(minutes // every):
        sw.clock.advance(timedelta(minutes=every))
        await sample(sw)
        await sw.step()


@pytest.fixture
def slow_sampling(sw: Harness) -> Harness:
    monitor_of(sw).interval_s = 300  # one sample per 5 fake minutes, no gaps
    return sw


async def test_an_idle_workspace_is_paused_notified_and_resumed(
    slow_sampling: Harness, receiver: Receiver
) -> None:
    sw = slow_sampling
    await sw.sdk.set_channel("hook", type="webhook", url=receiver.url)
    await sw.sdk.set_rule("idle", channel="hook", events=["idle-paused"])
    await sw.apply(workspace("lab", idleTimeout="30m"))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=1.0, memory_bytes=10**8)
    await sample(sw)

    await watch(sw, minutes=25)
    assert await sw.phase("Workspace", "lab") == "Running"  # not yet idle for 30 minutes
    await watch(sw, minutes=10)
    obj = await sw.get("Workspace", "lab")
    assert (obj.phase, obj.status["reason"]) == ("Paused", "IdlePaused")
    assert obj.spec["paused"] is False  # the spec is unchanged
    assert key("Workspace", "lab") in sw.fake.stopped
    assert "IdlePaused" in await sw.reasons("Workspace", "lab")

    await notify(sw)
    assert [b["event"] for b in receiver.bodies] == ["idle-paused"]
    assert receiver.bodies[0]["name"] == "lab"
    assert "no activity for 30m" in receiver.bodies[0]["message"]

    # Staying paused: more passes start nothing.
    started = len(sw.fake.started)
    await sw.step(3)
    assert len(sw.fake.started) == started

    resumed = await sw.sdk.resume("workspace", "lab")
    assert resumed.status["reason"] == "ResumeRequested"
    await sw.until_phase("Workspace", "lab", "Running")
    assert len(sw.fake.started) == started + 1
    assert "Resuming" in await sw.reasons("Workspace", "lab")


async def test_a_busy_workspace_is_never_paused(slow_sampling: Harness) -> None:
    sw = slow_sampling
    await sw.apply(workspace("lab", idleTimeout="30m"))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=80.0)
    await sample(sw)
    await watch(sw, minutes=60)
    assert await sw.phase("Workspace", "lab") == "Running"


async def test_the_idle_threshold_in_the_spec_decides_what_counts_as_quiet(
    slow_sampling: Harness,
) -> None:
    sw = slow_sampling
    # A background process at 8% of a core, forever: quiet under cpu: 10, busy at the 5%
    # default.
    await sw.apply(
        workspace("lab", idleTimeout="30m", idleThreshold={"cpu": 10}),
        workspace("other", idleTimeout="30m"),
    )
    await sw.until_phase("Workspace", "lab", "Running")
    await sw.until_phase("Workspace", "other", "Running")
    for name in ("lab", "other"):
        sw.fake.set_usage(key("Workspace", name), cpu_percent=8.0)
    await sample(sw)

    await watch(sw, minutes=35)
    lab = await sw.get("Workspace", "lab")
    assert (lab.phase, lab.status["reason"]) == ("Paused", "IdlePaused")
    assert await sw.phase("Workspace", "other") == "Running"
    await watch(sw, minutes=60)
    assert await sw.phase("Workspace", "other") == "Running"


async def test_a_service_idles_by_gateway_figures_and_resumes_on_a_request(
    slow_sampling: Harness,
) -> None:
    sw = slow_sampling
    await sw.apply(service("api", idleTimeout="30m"))
    await sw.until_phase("Service", "api", "Running")
    await sample(sw)
    await watch(sw, minutes=60)
    assert await sw.phase("Service", "api") == "Running"  # requests unknown: active

    async def no_requests() -> Loads:  # the gateway answers: no request since it started
        return {}

    sw.manager.load_source = no_requests
    await sw.step()  # the controller fetches the figures; the monitor reads them from it
    await watch(sw, minutes=5)
    obj = await sw.get("Service", "api")
    assert (obj.phase, obj.status["reason"]) == ("Paused", "IdlePaused")

    # The gateway holds a request for it: the next pass resumes it.
    held = {(TEAM, "api"): Load((), held=1)}

    async def gateway() -> Loads:
        return held

    sw.manager.load_source = gateway
    await sw.until_phase("Service", "api", "Running")
    assert (
        "a request is waiting at the gateway"
        in [e.message for e in await sw.events("Service", "api")]
        or await sw.phase("Service", "api") == "Running"
    )


async def test_pause_and_resume_by_hand(sw: Harness) -> None:
    await sw.apply(workspace("lab"))
    await sw.until_phase("Workspace", "lab", "Running")
    paused = await sw.sdk.pause("ws", "lab")
    assert paused.spec["paused"] is True
    await sw.until_phase("Workspace", "lab", "Paused")
    assert key("Workspace", "lab") in sw.fake.stopped
    await sw.sdk.resume("ws", "lab")
    await sw.until_phase("Workspace", "lab", "Running")


async def test_utilisation_is_stored_as_series_of_the_object(sw: Harness) -> None:
    await sw.apply(workspace("lab", resources={"cpu": 2, "memory": "1Gi"}))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=24.0, memory_bytes=1000)
    await sample(sw)
    series = {s.name: s for s in await sw.sdk.list_metrics("workspace", "lab")}
    assert series["sapwood.cpu_percent"].points[-1].value == 24.0
    assert series["sapwood.cpu_requested_percent"].points[-1].value == 200.0
    assert series["sapwood.memory_bytes"].points[-1].value == 1000
    assert "sapwood.gpu_percent" not in series  # no GPUs


async def test_underutilisation_is_notified_once_per_episode(
    sw: Harness, receiver: Receiver
) -> None:
    monitor_of(sw).interval_s = 300
    await notify_only_when_asked(sw)
    await sw.sdk.set_channel("hook", type="webhook", url=receiver.url)
    await sw.sdk.set_rule(
        "waste", channel="hook", events=["underutilised"], threshold=20, duration="30m"
    )
    await sw.apply(workspace("lab", resources={"cpu": 4}, idleTimeout=None))
    await sw.until_phase("Workspace", "lab", "Running")
    unit = key("Workspace", "lab")
    sw.fake.set_usage(unit, cpu_percent=30.0)  # 0.3 of 4 cores
    await sample(sw)
    await watch(sw, minutes=20)
    await notify(sw)
    assert receiver.bodies == []  # not 30 minutes yet
    await watch(sw, minutes=15)
    await notify(sw)
    assert [b["message"] for b in receiver.bodies] == [
        "CPU used at most 0.30 of 4 CPUs over 30 min (under 20% of the request); request 0.5 CPU"
    ]
    await watch(sw, minutes=10)
    await notify(sw)
    assert [b["event"] for b in receiver.bodies] == ["underutilised"]  # the same episode: once
    assert "Underutilised" in await sw.reasons("Workspace", "lab")

    sw.fake.set_usage(unit, cpu_percent=300.0)  # busy: the episode ends
    await watch(sw, minutes=5)
    await notify(sw)
    assert len(receiver.bodies) == 1
    sw.fake.set_usage(unit, cpu_percent=10.0)
    await watch(sw, minutes=40)
    await notify(sw)
    assert len(receiver.bodies) == 2  # a new episode


async def test_a_one_minute_underuse_rule_fires(sw: Harness, receiver: Receiver) -> None:
    # The smallest window a rule accepts, over samples taken every 15 s (the default).
    await sw.sdk.set_channel("hook", type="webhook", url=receiver.url)
    await sw.sdk.set_rule(
        "waste", channel="hook", events=["underutilised"], threshold=20, duration="1m"
    )
    await sw.apply(workspace("lab", resources={"cpu": 4}, idleTimeout=None))
    await sw.until_phase("Workspace", "lab", "Running")
    sw.fake.set_usage(key("Workspace", "lab"), cpu_percent=10.0)
    await notify_only_when_asked(sw)
    for _ in range(5):  # a round lands a second late each time, as a real one does
        await sample(sw)
        sw.clock.advance(timedelta(seconds=16))
    await notify(sw)
    assert [(b["event"], b["message"]) for b in receiver.bodies] == [
        (
            "underutilised",
            "CPU used at most 0.10 of 4 CPUs over 1 min (under 20% of the request); "
            "request 0.25 CPU",
        )
    ]
