"""Fixtures for LocalRuntime integration tests: real processes, always cleaned up.

`make_runtime` hands out LocalRuntimes; at teardown every data dir used is opened by a fresh
runtime which stops and forgets every unit, so no test leaves a process behind.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitPhase, UnitSpec, UnitState
from sapwood.server.runtimes.local.runtime import LocalRuntime
from sapwood.server.runtimes.local.settings import LocalRuntimeSettings
from sapwood.testing.waiting import eventually


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def make_runtime(tmp_path: Path) -> AsyncIterator[Callable[..., LocalRuntime]]:
    made: list[LocalRuntime] = []
    data_dirs: set[Path] = set()

    def make(data_dir: Path | None = None, **settings: Any) -> LocalRuntime:
        """A LocalRuntime; unconfined unless `isolation=True` (these tests hand workloads
        paths under the test's private tmp folder; test_local_isolation.py confines)."""
        directory = data_dir or tmp_path / "data"
        data_dirs.add(directory)
        settings.setdefault("isolation", False)
        runtime = LocalRuntime(LocalRuntimeSettings(data_dir=directory, **settings))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.close()
    for directory in data_dirs:
        cleaner = LocalRuntime(LocalRuntimeSettings(data_dir=directory))
        for state in await cleaner.observe():
            await cleaner.stop(state.key, grace_period_s=1.0)
            await cleaner.forget(state.key)
        await cleaner.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., LocalRuntime]) -> LocalRuntime:
    return make_runtime()


def python_unit(key: UnitKey, code: str, *args: str, **fields: Any) -> UnitSpec:
    """A unit running `python -c code args...` with the test's interpreter."""
    fields.setdefault("grace_period_s", 5.0)
    return UnitSpec(key=key, command=(sys.executable, "-c", code, *args), env={}, **fields)


@pytest.fixture
def python() -> Callable[..., UnitSpec]:
    return python_unit


@pytest.fixture
def wait_state() -> Callable[..., Awaitable[UnitState]]:
    """wait_state(runtime, key, phase=EXITED): the unit's state once it is in `phase`."""

    async def wait(
        runtime: LocalRuntime, key: UnitKey, phase: UnitPhase = UnitPhase.EXITED
    ) -> UnitState:
        async def check() -> UnitState | None:
            for state in await runtime.observe():
                if state.key == key and state.phase is phase:
                    return state
            return None

        result = await eventually(check, timeout_s=10.0, what=f"{key} to be {phase.value}")
        assert result is not None
        return result

    return wait


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    """``await wait_until(check)``: the first truthy result of ``check()``."""
    return eventually
