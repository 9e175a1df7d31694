"""stop() and unit exits leave no process behind: process groups, setsid, double forks."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitReason, UnitSpec
from sapwood.server.runtimes.local.procfs import ProcessId, identify, is_alive, list_stats
from sapwood.server.runtimes.local.runtime import LocalRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY = UnitKey("Job", "research", "tree")
Python = Callable[..., UnitSpec]

# The main process starts: a child in its process group, a child in a new session that
# ignores SIGTERM, and a double-forked daemon (setsid, parent gone, so it is orphaned).
# It writes every pid to argv[1], then behaves as argv[2] says.
TREE = """
import json, os, signal, subprocess, sys, time
out, behaviour = sys.argv[1], sys.argv[2]
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
same_group = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
new_session = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
read_end, write_end = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(write_end, str(os.getpid()).encode())
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
    os._exit(0)
os.wait()
daemon = int(os.read(read_end, 32))
pids = [os.getpid(), same_group.pid, new_session.pid, daemon]
with open(out + ".tmp", "w") as f:
    json.dump(pids, f)
os.rename(out + ".tmp", out)
if behaviour == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if behaviour == "exit-now":
    sys.exit(0)
time.sleep(600)
"""


async def start_tree(
    runtime: LocalRuntime,
    python: Python,
    wait_until: Callable[..., Awaitable[Any]],
    tmp_path: Path,
    behaviour: str,
) -> list[ProcessId]:
    out = tmp_path / "pids.json"
    await runtime.start(python(KEY, TREE, str(out), behaviour, grace_period_s=1.0))

    async def written() -> bool:
        return out.exists()

    await wait_until(written)
    pids = json.loads(out.read_text())
    processes = [identify(pid) for pid in pids]
    return [p for p in processes if p is not None]


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups-if-any", "no-cgroups"])
@pytest.mark.parametrize("behaviour", ["exit-on-term", "ignore-term"])
async def test_stop_kills_the_whole_tree(
    make_runtime: Callable[..., LocalRuntime],
    python: Python,
    wait_until: Callable[..., Awaitable[Any]],
    tmp_path: Path,
    behaviour: str,
    use_cgroups: bool,
) -> None:
    # Without cgroups the shim, a child subreaper, is what still finds the orphans.
    runtime = make_runtime(use_cgroups=use_cgroups)
    processes = await start_tree(runtime, python, wait_until, tmp_path, behaviour)
    assert len(processes) == 4
    await runtime.stop(KEY)
    # stop() returns once everything is gone: no polling here on purpose.
    assert [p for p in processes if is_alive(p)] == []
    (state,) = await runtime.observe()
    assert state.reason == UnitReason.STOPPED


async def test_processes_left_behind_by_an_exited_unit_are_killed(
    runtime: LocalRuntime,
    python: Python,
    wait_until: Callable[..., Awaitable[Any]],
    wait_state: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    processes = await start_tree(runtime, python, wait_until, tmp_path, "exit-now")
    state = await wait_state(runtime, KEY)
    assert (state.exit_code, state.reason) == (0, UnitReason.COMPLETED)
    assert [p for p in processes if is_alive(p)] == []


async def test_stop_lets_a_unit_shut_down_gracefully(
    runtime: LocalRuntime, python: Python, wait_until: Callable[..., Awaitable[Any]]
) -> None:
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n    print('cleaning up', flush=True)\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\ntime.sleep(600)"
    )
    await runtime.start(python(KEY, code, grace_period_s=30.0))

    async def ready() -> bool:
        return b"ready" in b"".join([c async for c in runtime.logs(KEY)])

    await wait_until(ready)
    await runtime.stop(KEY)
    (state,) = await runtime.observe()
    assert (state.exit_code, state.reason) == (0, UnitReason.STOPPED)
    assert b"cleaning up" in b"".join([c async for c in runtime.logs(KEY)])


def zombie_children() -> set[int]:
    return {s.pid for s in list_stats() if s.ppid == os.getpid() and s.state == "Z"}


async def test_ended_units_leave_no_zombie_shims(
    runtime: LocalRuntime, python: Python, wait_state: Callable[..., Awaitable[Any]]
) -> None:
    before = zombie_children()
    await runtime.start(python(KEY, "pass"))
    await wait_state(runtime, KEY)
    await runtime.forget(KEY)
    stopped = UnitKey("Service", "research", "api")
    await runtime.start(python(stopped, "import time; time.sleep(600)"))
    await runtime.stop(stopped)
    assert zombie_children() - before == set()
