"""Unit logs: capture, rotation, the previous run, following across a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import pytest

from sapwood.server.runtimes.base import UnitKey, UnitSpec
from sapwood.server.runtimes.local.runtime import LocalRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY = UnitKey("Service", "research", "talker")
Python = Callable[..., UnitSpec]
WaitState = Callable[..., Awaitable[Any]]


async def read_all(runtime: LocalRuntime, key: UnitKey, *, previous: bool = False) -> bytes:
    async with aclosing(runtime.logs(key, previous=previous)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_stdout_and_stderr_are_captured(
    runtime: LocalRuntime, python: Python, wait_state: WaitState
) -> None:
    code = "import sys; print('out', flush=True); print('err', file=sys.stderr, flush=True)"
    await runtime.start(python(KEY, code))
    await wait_state(runtime, KEY)
    assert await read_all(runtime, KEY) == b"out\nerr\n"


async def test_log_is_rotated_past_the_limit(
    make_runtime: Callable[..., LocalRuntime],
    python: Python,
    wait_state: WaitState,
    tmp_path: Path,
) -> None:
    runtime = make_runtime(log_max_bytes=1000)
    code = "for i in range(300):\n    print(f'line {i:04d}', flush=True)"
    await runtime.start(python(KEY, code))
    await wait_state(runtime, KEY)
    unit_dir = tmp_path / "data" / "units" / KEY.slug()
    assert (unit_dir / "current.log").stat().st_size <= 1000
    assert (unit_dir / "current.log.1").stat().st_size <= 1000
    text = await read_all(runtime, KEY)
    # One rotated file is kept: the oldest lines are gone, the newest are there, in order.
    assert len(text) <= 2000
    assert text.endswith(b"line 0299\n")
    # Rotation may split a line at the start; the rest are whole and in order.
    numbers = [int(line.split()[1]) for line in text.decode().splitlines()[1:]]
    assert numbers == list(range(numbers[0], 300))


async def test_previous_run_log_is_kept(
    runtime: LocalRuntime, python: Python, wait_state: WaitState
) -> None:
    await runtime.start(python(KEY, "print('first run')"))
    await wait_state(runtime, KEY)
    await runtime.start(python(KEY, "print('second run')"))
    await wait_state(runtime, KEY)
    assert await read_all(runtime, KEY) == b"second run\n"
    assert await read_all(runtime, KEY, previous=True) == b"first run\n"


async def test_logs_survive_forget(
    runtime: LocalRuntime, python: Python, wait_state: WaitState
) -> None:
    await runtime.start(python(KEY, "print('kept')"))
    await wait_state(runtime, KEY)
    await runtime.forget(KEY)
    assert await read_all(runtime, KEY) == b"kept\n"


async def test_follow_continues_across_a_restart(
    runtime: LocalRuntime,
    python: Python,
    wait_state: WaitState,
    wait_until: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    trigger = tmp_path / "go"
    code = (
        "import os, sys, time\nprint(sys.argv[1], flush=True)\n"
        "while not os.path.exists(sys.argv[2]):\n    time.sleep(0.02)"
    )
    await runtime.start(python(KEY, code, "one", str(trigger)))
    seen = bytearray()

    async def follow() -> None:
        async with aclosing(runtime.logs(KEY, follow=True)) as chunks:
            async for chunk in chunks:
                seen.extend(chunk)

    async def saw(text: bytes) -> bool:
        return text in seen

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follow)
        await wait_until(lambda: saw(b"one\n"))
        trigger.touch()
        await wait_state(runtime, KEY)
        trigger.unlink()
        await runtime.start(python(KEY, code, "two", str(trigger)))
        await wait_until(lambda: saw(b"two\n"))
        tasks.cancel_scope.cancel()
    assert bytes(seen) == b"one\ntwo\n"


async def test_follow_waits_for_output(
    runtime: LocalRuntime, python: Python, wait_until: Callable[..., Awaitable[Any]]
) -> None:
    code = (
        "import time\ntime.sleep(0.3)\n"
        "for i in range(3):\n    print(i, flush=True)\n    time.sleep(0.1)"
    )
    await runtime.start(python(KEY, code))
    received = bytearray()
    with anyio.fail_after(10):
        async with aclosing(runtime.logs(KEY, follow=True)) as chunks:
            async for chunk in chunks:
                received.extend(chunk)
                if received.endswith(b"2\n"):
                    break
    assert bytes(received) == b"0\n1\n2\n"
