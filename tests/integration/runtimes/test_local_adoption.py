"""A new LocalRuntime on the same data dir adopts units, exactly once, after close or crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from sapwood.server.runtimes.base import (
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
)
from sapwood.server.runtimes.local.procfs import identify, is_alive
from sapwood.server.runtimes.local.runtime import LocalRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

Python = Callable[..., UnitSpec]
SLEEP = "import time; time.sleep(600)"
WAIT_THEN_EXIT_5 = (
    "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.02)\n"
    "sys.exit(5)"
)


async def test_restarted_runtime_adopts_units_exactly_once(
    make_runtime: Callable[..., LocalRuntime],
    python: Python,
    wait_until: Callable[..., Awaitable[Any]],
    wait_state: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    sleeper = UnitKey("Service", "research", "api")
    pinned = UnitKey("Job", "research", "train")
    finisher = UnitKey("Job", "research", "finisher")
    trigger = tmp_path / "go"
    first = make_runtime()
    pids = {}
    for key, spec in [
        (sleeper, python(sleeper, SLEEP, wants_port=True)),
        (pinned, python(pinned, SLEEP, cpu_millis=1000 if os.cpu_count() != 1 else 0)),
        (finisher, python(finisher, WAIT_THEN_EXIT_5, str(trigger))),
    ]:
        pids[key] = (await first.start(spec)).pid
    before = {s.key: s for s in await first.observe()}
    await first.close()

    trigger.touch()  # the finisher exits while no runtime watches
    finisher_process = identify(pids[finisher])  # type: ignore[arg-type]

    async def finisher_gone() -> bool:
        return finisher_process is None or not is_alive(finisher_process)

    await wait_until(finisher_gone)

    second = make_runtime()
    # Its shim may still be writing the exit file: wait for the report, not just the pid.
    finished = await wait_state(second, finisher)
    assert (finished.exit_code, finished.reason) == (5, UnitReason.ERROR)
    states = await second.observe()
    assert sorted(s.key for s in states) == sorted(pids)  # each unit once
    by_key = {s.key: s for s in states}
    for key in (sleeper, pinned):
        assert by_key[key].phase is UnitPhase.RUNNING
        assert by_key[key].pid == pids[key]
        assert by_key[key].port == before[key].port
        assert by_key[key].cpu_set == before[key].cpu_set
    assert by_key[finisher] == finished

    # Adopted units are not started again, and their allocations are still held.
    again = await second.start(python(sleeper, SLEEP, wants_port=True))
    assert again.pid == pids[sleeper]
    assert len(await second.observe()) == 3
    if before[pinned].cpu_set:
        other = await second.start(python(UnitKey("Job", "research", "x"), SLEEP, cpu_millis=500))
        assert set(before[pinned].cpu_set).isdisjoint(other.cpu_set)


async def test_only_one_runtime_per_data_dir(
    make_runtime: Callable[..., LocalRuntime],
) -> None:
    first = make_runtime()
    await first.observe()
    second = make_runtime()
    with pytest.raises(RuntimeTemporaryError):
        await second.observe()
    await first.close()
    assert await make_runtime().observe() == []


SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sapwood.server.runtimes.base import UnitKey, UnitSpec
    from sapwood.server.runtimes.local.runtime import LocalRuntime
    from sapwood.server.runtimes.local.settings import LocalRuntimeSettings

    async def main() -> None:
        runtime = LocalRuntime(LocalRuntimeSettings(data_dir=Path(sys.argv[1])))
        key = UnitKey("Service", "research", "survivor")
        command = (sys.executable, "-c", "import time; time.sleep(600)")
        state = await runtime.start(UnitSpec(key, command, {}))
        print(state.pid, flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


def start_unit_then_kill_server(data_dir: Path) -> int:
    """Run a server process that starts one unit, kill -9 it; the unit's pid."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        return int(server.stdout.readline())
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


async def test_units_survive_a_killed_server(
    make_runtime: Callable[..., LocalRuntime], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    pid = await anyio.to_thread.run_sync(start_unit_then_kill_server, data_dir)
    runtime = make_runtime(data_dir)
    (state,) = await runtime.observe()
    assert (state.key.name, state.phase, state.pid) == ("survivor", UnitPhase.RUNNING, pid)
    await runtime.stop(state.key, grace_period_s=5.0)
    (stopped,) = await runtime.observe()
    assert stopped.reason == UnitReason.STOPPED
    process = identify(pid)
    assert process is None or not is_alive(process)
