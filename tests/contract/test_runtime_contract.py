"""The Runtime contract: every runtime (fake, local, and later Kubernetes) passes this."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest

from sapwood.server.runtimes.base import (
    Runtime,
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
    UnitState,
)

pytestmark = pytest.mark.anyio

KEY = UnitKey("Job", "research", "train")


def exited(state: UnitState) -> bool:
    return state.phase is UnitPhase.EXITED


async def test_is_a_runtime(harness: Any) -> None:
    assert isinstance(harness.runtime, Runtime)
    assert harness.runtime.name


async def test_capacity_is_positive(harness: Any) -> None:
    capacity = await harness.runtime.capacity()
    assert capacity.cpu_millis > 0
    assert capacity.memory_bytes > 0
    assert capacity.gpus >= 0
    assert len(capacity.gpu_models) in (0, capacity.gpus)


async def test_start_returns_running_state(harness: Any) -> None:
    state = await harness.runtime.start(harness.spec(KEY, generation=7))
    assert state.key == KEY
    assert state.phase is UnitPhase.RUNNING
    assert state.generation == 7
    if harness.has_pids:
        assert isinstance(state.pid, int)
    else:  # Kubernetes: a pod, no host pid
        assert state.pid is None
    assert state.started_at.tzinfo is not None
    assert state.exit_code is None
    assert state.reason is None


async def test_start_is_idempotent(harness: Any) -> None:
    first = await harness.runtime.start(harness.spec(KEY))
    again = await harness.runtime.start(harness.spec(KEY))
    assert again.pid == first.pid
    states = await harness.runtime.observe()
    assert [s.key for s in states] == [KEY]
    assert states[0].phase is UnitPhase.RUNNING


async def test_observe_reports_exit_code(harness: Any) -> None:
    await harness.runtime.start(harness.spec(KEY, exit_code=3))
    (running,) = await harness.runtime.observe()
    assert running.phase is UnitPhase.RUNNING
    await harness.finish(KEY)
    state = await harness.wait_for(KEY, exited)
    assert state.exit_code == 3
    assert state.reason == UnitReason.ERROR
    assert state.finished_at is not None
    assert state.finished_at >= state.started_at


async def test_exit_zero_is_completed(harness: Any) -> None:
    await harness.runtime.start(harness.spec(KEY, exit_code=0))
    await harness.finish(KEY)
    state = await harness.wait_for(KEY, exited)
    assert (state.exit_code, state.reason) == (0, UnitReason.COMPLETED)


async def test_stop_reports_stopped_and_is_idempotent(harness: Any) -> None:
    await harness.runtime.start(harness.spec(KEY))
    await harness.runtime.stop(KEY, grace_period_s=5.0)
    (state,) = await harness.runtime.observe()
    assert state.phase is UnitPhase.EXITED
    assert state.reason == UnitReason.STOPPED
    await harness.runtime.stop(KEY)
    (again,) = await harness.runtime.observe()
    assert again == state


async def test_stop_of_unknown_key_is_a_no_op(harness: Any) -> None:
    await harness.runtime.stop(UnitKey("Job", "research", "nothing"))
    assert await harness.runtime.observe() == []


async def test_stop_after_exit_keeps_the_exit(harness: Any) -> None:
    await harness.runtime.start(harness.spec(KEY, exit_code=4))
    await harness.finish(KEY)
    await harness.wait_for(KEY, exited)
    await harness.runtime.stop(KEY)
    (state,) = await harness.runtime.observe()
    assert (state.exit_code, state.reason) == (4, UnitReason.ERROR)


async def test_forget_drops_an_exited_unit(harness: Any) -> None:
    other = UnitKey("Service", "research", "api")
    await harness.runtime.start(harness.spec(KEY))
    await harness.runtime.start(harness.spec(other))
    await harness.runtime.stop(KEY)
    await harness.runtime.forget(KEY)
    assert [s.key for s in await harness.runtime.observe()] == [other]
    await harness.runtime.forget(KEY)  # idempotent
    await harness.runtime.forget(UnitKey("Job", "research", "never"))


async def test_forget_refuses_a_running_unit(harness: Any) -> None:
    await harness.runtime.start(harness.spec(KEY))
    with pytest.raises(RuntimeTemporaryError):
        await harness.runtime.forget(KEY)
    assert [s.phase for s in await harness.runtime.observe()] == [UnitPhase.RUNNING]


async def test_start_after_exit_runs_again(harness: Any) -> None:
    await harness.runtime.start(harness.spec(KEY, generation=1))
    await harness.runtime.stop(KEY)
    state = await harness.runtime.start(harness.spec(KEY, generation=2))
    assert state.phase is UnitPhase.RUNNING
    (observed,) = await harness.runtime.observe()
    assert (observed.phase, observed.generation) == (UnitPhase.RUNNING, 2)


async def test_missing_command_is_a_permanent_error(harness: Any) -> None:
    missing = UnitSpec(key=KEY, command=(harness.missing_command, "--help"), env={})
    if not harness.checks_command_at_start:
        # A real cluster learns it only when the kubelet tries to exec: observe() says so.
        await harness.runtime.start(missing)
        state = await harness.wait_for(KEY, exited)
        assert state.reason == UnitReason.COMMAND_NOT_FOUND
        return
    with pytest.raises(RuntimePermanentError) as caught:
        await harness.runtime.start(missing)
    assert caught.value.reason == UnitReason.COMMAND_NOT_FOUND


async def test_port_is_assigned_only_when_wanted(harness: Any) -> None:
    service = UnitKey("Service", "research", "api")
    with_port = await harness.runtime.start(harness.spec(service, wants_port=True))
    without = await harness.runtime.start(harness.spec(KEY))
    assert with_port.port is not None
    assert 0 < with_port.port < 65536
    assert without.port is None


async def test_replicas_are_separate_units(harness: Any) -> None:
    keys = [UnitKey("Service", "research", "api", replica) for replica in range(2)]
    for key in keys:
        await harness.runtime.start(harness.spec(key))
    await harness.runtime.stop(keys[0])
    states = {s.key: s for s in await harness.runtime.observe()}
    assert states[keys[0]].phase is UnitPhase.EXITED
    assert states[keys[1]].phase is UnitPhase.RUNNING


async def test_logs_of_unknown_key_are_empty(harness: Any) -> None:
    async with aclosing(harness.runtime.logs(UnitKey("Job", "x", "none"))) as chunks:
        assert [chunk async for chunk in chunks] == []


async def test_usage_reports_running_units_only(harness: Any) -> None:
    done = UnitKey("Job", "research", "done")
    await harness.runtime.start(harness.spec(KEY))
    await harness.runtime.start(harness.spec(done))
    await harness.finish(done)
    await harness.wait_for(done, exited)
    usage = await harness.runtime.usage()
    assert done not in usage
    assert set(usage) <= {KEY}
    for measured in usage.values():
        assert measured.cpu_percent >= 0
        assert measured.memory_bytes >= 0
        assert measured.gpu_percent is None  # no GPUs asked for
        assert measured.gpu_memory_bytes is None


async def test_usage_is_empty_without_units(harness: Any) -> None:
    assert await harness.runtime.usage() == {}
