"""Resource limits of the LocalRuntime: memory (cgroups or rlimit), CPU pinning, quota."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import (
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
)
from sapwood.server.runtimes.local.runtime import LocalRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY = UnitKey("Job", "research", "hungry")
Python = Callable[..., UnitSpec]
WaitState = Callable[..., Awaitable[Any]]
# Touches every page: bytes multiplication writes the memory, unlike a calloc'd bytearray.
EAT_512_MIB = "data = b'x' * (512 * 1024 * 1024); print(len(data))"
SLEEP = "import time; time.sleep(600)"


async def test_memory_limit_kills_with_oom(
    runtime: LocalRuntime, python: Python, wait_state: WaitState
) -> None:
    if not runtime.limits_mechanism.startswith("cgroup"):
        pytest.skip(f"no writable cgroupfs here (limits by {runtime.limits_mechanism})")
    started = await runtime.start(python(KEY, EAT_512_MIB, memory_bytes=64 * 1024 * 1024))
    assert started.limits_enforced_by == runtime.limits_mechanism
    state = await wait_state(runtime, KEY)
    assert (state.reason, state.exit_code) == (UnitReason.OOM_KILLED, 137)


async def test_memory_limit_without_cgroups_uses_rlimit(
    make_runtime: Callable[..., LocalRuntime], python: Python, wait_state: WaitState
) -> None:
    runtime = make_runtime(use_cgroups=False)
    assert runtime.limits_mechanism == "rlimit"
    started = await runtime.start(python(KEY, EAT_512_MIB, memory_bytes=256 * 1024 * 1024))
    assert started.limits_enforced_by == "rlimit"
    state = await wait_state(runtime, KEY)
    # RLIMIT_AS makes the allocation fail (MemoryError), which is not told apart from
    # any other error exit: documented in docs/runtimes.md.
    assert (state.reason, state.exit_code) == (UnitReason.ERROR, 1)


async def test_unit_without_limits_and_without_cgroups_reports_none(
    make_runtime: Callable[..., LocalRuntime], python: Python
) -> None:
    runtime = make_runtime(use_cgroups=False)
    state = await runtime.start(python(KEY, SLEEP))
    assert state.limits_enforced_by == "none"


def need_cores(count: int) -> None:
    if len(os.sched_getaffinity(0)) < count:
        pytest.skip(f"needs {count} usable cores")


async def test_whole_cpu_unit_is_pinned(
    runtime: LocalRuntime, python: Python, wait_until: Callable[..., Awaitable[Any]]
) -> None:
    need_cores(2)
    pinned = await runtime.start(python(KEY, SLEEP, cpu_millis=1000))
    assert len(pinned.cpu_set) == 1
    assert pinned.pid is not None
    assert os.sched_getaffinity(pinned.pid) == set(pinned.cpu_set)
    shared_key = UnitKey("Service", "research", "api")
    shared = await runtime.start(python(shared_key, SLEEP, cpu_millis=500))
    assert shared.cpu_set == ()
    assert shared.pid is not None
    expected_shared = os.sched_getaffinity(0) - set(pinned.cpu_set)
    assert os.sched_getaffinity(shared.pid) == expected_shared


async def test_shared_units_move_off_cores_given_exclusively(
    runtime: LocalRuntime, python: Python, wait_until: Callable[..., Awaitable[Any]]
) -> None:
    need_cores(2)
    shared = await runtime.start(python(UnitKey("Service", "research", "api"), SLEEP))
    assert shared.pid is not None
    assert os.sched_getaffinity(shared.pid) == os.sched_getaffinity(0)
    pinned = await runtime.start(python(KEY, SLEEP, cpu_millis=1000))
    assert os.sched_getaffinity(shared.pid) == os.sched_getaffinity(0) - set(pinned.cpu_set)
    await runtime.stop(KEY)
    await runtime.observe()  # noticing the exit hands the core back to shared units

    async def widened() -> bool:
        return os.sched_getaffinity(shared.pid) == os.sched_getaffinity(0)  # type: ignore[arg-type]

    await wait_until(widened)


async def test_exclusive_cores_are_not_overcommitted(runtime: LocalRuntime, python: Python) -> None:
    cores = len(os.sched_getaffinity(0))
    need_cores(2)
    # One core always stays shared, so at most cores - 1 can be held exclusively.
    await runtime.start(python(KEY, SLEEP, cpu_millis=(cores - 1) * 1000))
    other = UnitKey("Job", "research", "second")
    with pytest.raises(RuntimeTemporaryError):
        await runtime.start(python(other, SLEEP, cpu_millis=1000))
    await runtime.stop(KEY)
    state = await runtime.start(python(other, SLEEP, cpu_millis=1000))
    assert state.phase is UnitPhase.RUNNING


async def test_fractional_cpu_gets_a_quota(
    runtime: LocalRuntime, python: Python, tmp_path: Path
) -> None:
    if runtime.limits_mechanism != "cgroup-v1":
        pytest.skip("reads the v1 cpu controller directly")
    await runtime.start(python(KEY, SLEEP, cpu_millis=250))
    record = (tmp_path / "data" / "units" / KEY.slug() / "record.json").read_text()
    cpu_dirs = [Path(d) for d in __import__("json").loads(record)["cgroup_dirs"]]
    quotas = [(d / "cpu.cfs_quota_us").read_text().strip() for d in cpu_dirs if "cpu" in str(d)]
    assert "25000" in quotas
