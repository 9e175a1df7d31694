"""What survives races and restarts: the user's spec, and exactly one unit per replica."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitState
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import job, service

pytestmark = pytest.mark.anyio


class RacingRuntime(FakeRuntime):
    """Runs queued actions when the controller observes: after it loaded objects, before it
    writes their statuses, which is where a user's concurrent apply lands."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock.now)
        self.during_next_pass: list[Callable[[], Awaitable[Any]]] = []

    async def observe(self) -> list[UnitState]:
        while self.during_next_pass:
            await self.during_next_pass.pop(0)()
        return await super().observe()


@pytest.fixture
async def racing(make_server: Callable[[FakeRuntime], Any], clock: FakeClock) -> Any:
    async with make_server(RacingRuntime(clock)) as harness:
        yield harness


async def test_a_stale_status_write_never_loses_the_users_spec(racing: Harness) -> None:
    runtime = racing.fake
    assert isinstance(runtime, RacingRuntime)
    await racing.apply(job("train", env={"LR": "0.1"}))
    await racing.step()
    racing.clock.advance(30)
    racing.fake.exit(key("Job", "train"), 0)

    runtime.during_next_pass.append(lambda: racing.apply(job("train", env={"LR": "0.2"})))
    await racing.step()

    train = await racing.get("job", "train")
    assert train.spec["env"] == {"LR": "0.2"}
    assert train.metadata.generation == 2

    # The dropped write is recomputed from what is current, and said once.
    await racing.until_phase("job", "train", "Succeeded")
    train = await racing.get("job", "train")
    assert train.spec["env"] == {"LR": "0.2"}
    assert (await racing.reasons("job", "train")).count("Succeeded") == 1


async def test_a_job_started_in_a_stale_pass_still_runs_to_completion(racing: Harness) -> None:
    runtime = racing.fake
    assert isinstance(runtime, RacingRuntime)
    await racing.apply(job("train", env={"LR": "0.1"}))
    runtime.during_next_pass.append(lambda: racing.apply(job("train", env={"LR": "0.2"})))
    await racing.step()
    assert len(racing.fake.started) == 1  # started, though the status write was dropped

    await racing.until_phase("job", "train", "Running")
    racing.clock.advance(30)
    racing.fake.exit(key("Job", "train"), 0)
    await racing.until_phase("job", "train", "Succeeded")


async def test_a_restarted_controller_adopts_units_without_duplicating_them(
    make_server: Callable[[FakeRuntime], Any], fake: FakeRuntime, clock: FakeClock
) -> None:
    async with make_server(fake) as before:
        await before.apply(service("web", replicas=2))
        await before.step()
        await before.apply(job("steady"), job("flaky", retries=3))
        await before.step()
        clock.advance(5)
        fake.exit(key("Job", "flaky"), 1)
        await before.step()
        assert (await before.get("job", "flaky")).status["failures"] == 1
        started = list(fake.started)
        assert len(started) == 4

        # The old controller vanishes without shutting down; its units keep running.
        async with make_server(fake) as after:
            await after.step(2)

            assert fake.started == started
            assert fake.stopped == []
            assert await after.phase("job", "steady") == "Running"
            web = await after.get("service", "web")
            assert web.status["readyReplicas"] == 2
            flaky = await after.get("job", "flaky")
            assert flaky.status["failures"] == 1  # the exit is not counted twice
            for kind, name in (("job", "steady"), ("service", "web")):
                assert "BackOff" not in await after.reasons(kind, name)

            # The backoff recorded before the restart still holds.
            clock.advance(10)
            await after.step()
            assert [u.key for u in fake.started[4:]] == [key("Job", "flaky")]


async def test_the_first_pass_for_several_multi_replica_objects_writes_every_status(
    sw: Harness,
) -> None:
    """Replicas of one object share one workload token: issuing it must not fail a pass."""
    await sw.apply(job("a"), service("web", replicas=3), job("b", replicas=2))

    await sw.step()

    assert await sw.phase("job", "a") == "Running"
    assert await sw.phase("service", "web") == "Running"
    assert await sw.phase("job", "b") == "Running"
    assert len(sw.fake.started) == 6
