"""The FakeRuntime's test helpers (the protocol itself is covered by tests/contract)."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import anyio.lowlevel
import pytest

from sapwood.server.runtimes.base import (
    Capacity,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
)
from sapwood.testing.fake_runtime import FakeRuntime

pytestmark = pytest.mark.anyio

KEY = UnitKey("Job", "research", "train")
SPEC = UnitSpec(KEY, ("train.py",), {})


async def test_started_records_each_real_start() -> None:
    fake = FakeRuntime()
    await fake.start(SPEC)
    await fake.start(SPEC)
    assert fake.started == [SPEC]
    fake.exit(KEY, 0)
    await fake.start(SPEC)
    assert fake.started == [SPEC, SPEC]


async def test_exit_and_crash() -> None:
    fake = FakeRuntime()
    await fake.start(SPEC)
    fake.crash(KEY, reason=UnitReason.OOM_KILLED)
    state = fake.state(KEY)
    assert state is not None
    assert (state.phase, state.reason, state.exit_code) == (
        UnitPhase.EXITED,
        UnitReason.OOM_KILLED,
        137,
    )
    with pytest.raises(KeyError):
        fake.exit(KEY, 1)


async def test_set_capacity_and_fail_next_start() -> None:
    fake = FakeRuntime()
    fake.set_capacity(Capacity(cpu_millis=1000, memory_bytes=1, gpus=1))
    assert (await fake.capacity()).gpus == 1
    fake.fail_next_start(RuntimeTemporaryError("busy"))
    with pytest.raises(RuntimeTemporaryError):
        await fake.start(SPEC)
    assert (await fake.start(SPEC)).phase is UnitPhase.RUNNING


async def test_logs_follow_and_previous() -> None:
    fake = FakeRuntime()
    await fake.start(SPEC)
    fake.write_log(KEY, b"one\n")
    seen = bytearray()
    both_runs = anyio.Event()

    async def follow() -> None:
        async with aclosing(fake.logs(KEY, follow=True)) as chunks:
            async for chunk in chunks:
                seen.extend(chunk)
                if seen == b"one\ntwo\n":
                    both_runs.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follow)
        await anyio.lowlevel.checkpoint()
        fake.exit(KEY, 0)
        await fake.start(SPEC)
        fake.write_log(KEY, b"two\n")
        with anyio.fail_after(5):
            await both_runs.wait()
        tasks.cancel_scope.cancel()
    async with aclosing(fake.logs(KEY, previous=True)) as chunks:
        assert [c async for c in chunks] == [b"one\n"]


async def test_closed_fake_refuses_calls() -> None:
    fake = FakeRuntime()
    await fake.close()
    with pytest.raises(RuntimeTemporaryError):
        await fake.observe()
