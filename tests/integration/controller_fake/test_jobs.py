"""Jobs end to end: SDK → store → controller pass → FakeRuntime, on a fake clock."""

from __future__ import annotations

import pytest

from sapwood.server.runtimes.base import RuntimePermanentError
from tests.integration.controller_fake.conftest import TEAM, Harness, key
from tests.support import job

pytestmark = pytest.mark.anyio


def in_order(wanted: list[str], seen: list[str]) -> bool:
    rest = iter(seen)
    return all(reason in rest for reason in wanted)


async def test_a_job_is_admitted_runs_and_succeeds(sw: Harness) -> None:
    await sw.apply(job("train", env={"EPOCHS": "3"}))
    created = await sw.get("job", "train")

    await sw.step()

    assert await sw.phase("job", "train") == "Running"
    [unit] = sw.fake.started
    assert unit.key == key("Job", "train")
    assert unit.command == ("python", "-c", "print('hi')")
    assert unit.env["EPOCHS"] == "3"
    assert unit.env["SAPWOOD_KIND"] == "Job"
    assert unit.env["SAPWOOD_TEAM"] == TEAM
    assert unit.env["SAPWOOD_NAME"] == "train"
    assert unit.env["SAPWOOD_UID"] == created.metadata.uid
    assert unit.env["SAPWOOD_URL"].startswith("http")

    # The workload's token is accepted by the API, for its own object.
    async with sw.api.client(unit.env["SAPWOOD_TOKEN"]) as workload:
        assert (await workload.get("job", "train", team=TEAM)).metadata.uid == created.metadata.uid

    sw.clock.advance(30)
    sw.fake.exit(unit.key, 0)
    await sw.step()

    done = await sw.get("job", "train")
    assert done.phase == "Succeeded"
    assert done.status["reason"] == "Completed"
    assert done.status["succeeded"] == 1
    reasons = await sw.reasons("job", "train")
    assert in_order(["Created", "Admitted", "Started", "Completed", "Succeeded"], reasons)

    # A finished job stays finished: its unit is forgotten and nothing starts again.
    await sw.step(2)
    assert sw.fake.state(unit.key) is None
    assert len(sw.fake.started) == 1
    assert await sw.phase("job", "train") == "Succeeded"


async def test_a_failing_job_is_retried_with_backoff_then_fails(sw: Harness) -> None:
    await sw.apply(job("flaky", retries=2))
    await sw.step()
    unit = key("Job", "flaky")

    for attempt, delay in ((1, 10), (2, 20)):
        sw.clock.advance(5)
        sw.fake.exit(unit, 3)
        await sw.step()
        obj = await sw.get("job", "flaky")
        assert obj.phase == "Running"
        assert obj.status["failures"] == attempt
        assert obj.status["replicas"][0]["state"] == "BackOff"
        events = await sw.events("job", "flaky")
        assert events[-1].reason == "BackOff"
        assert f"retry {attempt} of 2 in {delay}s" in events[-1].message

        sw.clock.advance(delay - 1)
        await sw.step()
        assert len(sw.fake.started) == attempt  # not yet

        sw.clock.advance(1)
        await sw.step()
        assert len(sw.fake.started) == attempt + 1

    sw.clock.advance(5)
    sw.fake.exit(unit, 3)
    await sw.step()

    failed = await sw.get("job", "flaky")
    assert failed.phase == "Failed"
    assert failed.status["reason"] == "BackoffLimitExceeded"
    sw.clock.advance(600)
    await sw.step(2)
    assert len(sw.fake.started) == 3


async def test_a_missing_command_fails_the_job_without_retrying(sw: Harness) -> None:
    sw.fake.fail_next_start(
        RuntimePermanentError("command not found: trian.py", reason="CommandNotFound")
    )
    await sw.apply(job("typo", command=["trian.py"], retries=5))

    await sw.until_phase("job", "typo", "Failed", passes=3)

    failed = await sw.get("job", "typo")
    assert failed.status["reason"] == "CommandNotFound"
    assert "CommandNotFound" in await sw.reasons("job", "typo")
    sw.clock.advance(600)
    await sw.step(2)
    assert sw.fake.started == []
    assert (await sw.get("job", "typo")).phase == "Failed"


async def test_a_missing_command_says_where_it_was_looked_for(sw: Harness) -> None:
    where = "command not found: trian.py (searched PATH: /opt/tools/bin, /usr/bin)"
    sw.fake.fail_next_start(RuntimePermanentError(where, reason="CommandNotFound"))
    await sw.apply(job("typo", command=["trian.py"]))

    await sw.until_phase("job", "typo", "Failed", passes=3)

    failed = await sw.get("job", "typo")
    assert failed.status["message"] == f"replica 0 exited with code 127 (CommandNotFound): {where}"
    assert failed.status["replicas"][0]["lastExit"]["message"] == where
    [event] = [e for e in await sw.events("job", "typo") if e.reason == "CommandNotFound"]
    assert where in event.message


async def test_a_job_past_its_deadline_is_stopped(sw: Harness) -> None:
    await sw.apply(job("slow", activeDeadline="10m"))
    await sw.step()

    sw.clock.advance(9 * 60)
    await sw.step()
    assert await sw.phase("job", "slow") == "Running"

    sw.clock.advance(60)
    await sw.step()

    failed = await sw.get("job", "slow")
    assert failed.phase == "Failed"
    assert failed.status["reason"] == "DeadlineExceeded"
    assert key("Job", "slow") in sw.fake.stopped


async def test_completions_run_the_replica_again(sw: Harness) -> None:
    await sw.apply(job("sweep", completions=3))
    await sw.step()
    for _ in range(3):
        sw.clock.advance(10)
        sw.fake.exit(key("Job", "sweep"), 0)
        await sw.step()

    done = await sw.get("job", "sweep")
    assert done.phase == "Succeeded"
    assert done.status["succeeded"] == 3
    assert len(sw.fake.started) == 3
