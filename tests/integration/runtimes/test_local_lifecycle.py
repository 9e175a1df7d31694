"""LocalRuntime with real processes: how units end, what they see (env, port, volumes)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import (
    RuntimePermanentError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
    VolumeMount,
)
from sapwood.server.runtimes.local.runtime import LocalRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY = UnitKey("Job", "research", "train")
Python = Callable[..., UnitSpec]
WaitState = Callable[..., Awaitable[Any]]


@pytest.mark.parametrize(
    ("code", "exit_code", "reason"),
    [
        ("pass", 0, UnitReason.COMPLETED),
        ("import sys; sys.exit(3)", 3, UnitReason.ERROR),
        ("raise SystemExit('boom')", 1, UnitReason.ERROR),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 137, UnitReason.KILLED),
    ],
)
async def test_exit_is_reported(
    runtime: LocalRuntime,
    python: Python,
    wait_state: WaitState,
    code: str,
    exit_code: int,
    reason: str,
) -> None:
    await runtime.start(python(KEY, code))
    state = await wait_state(runtime, KEY)
    assert (state.exit_code, state.reason) == (exit_code, reason)


async def test_missing_command_starts_nothing(runtime: LocalRuntime, tmp_path: Path) -> None:
    with pytest.raises(RuntimePermanentError) as caught:
        await runtime.start(UnitSpec(KEY, ("sapwood-does-not-exist",), {}))
    assert caught.value.reason == UnitReason.COMMAND_NOT_FOUND
    with pytest.raises(RuntimePermanentError):
        await runtime.start(UnitSpec(KEY, ("./missing.sh",), {}, workdir=str(tmp_path)))
    assert await runtime.observe() == []


async def test_exec_failure_in_the_shim_is_command_not_found(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    # The runtime's pre-check finds an executable file; exec then fails because its
    # interpreter is missing, which the shim reports and start() raises all the same.
    script = tmp_path / "tool.sh"
    script.write_text("#!/sapwood/no/such/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(RuntimePermanentError) as caught:
        await runtime.start(UnitSpec(KEY, (str(script),), {}))
    assert caught.value.reason == UnitReason.COMMAND_NOT_FOUND
    (state,) = await runtime.observe()
    assert (state.phase, state.reason, state.exit_code) == (
        UnitPhase.EXITED,
        UnitReason.COMMAND_NOT_FOUND,
        127,
    )


async def test_env_workdir_and_port(
    runtime: LocalRuntime, python: Python, wait_state: WaitState, tmp_path: Path
) -> None:
    out = tmp_path / "seen.json"
    code = (
        "import json, os, socket, sys\n"
        "s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.close()\n"
        "json.dump({'cwd': os.getcwd(), 'port': os.environ['PORT'],"
        " 'greeting': os.environ['GREETING'], 'home': os.environ.get('HOME')},"
        " open(sys.argv[1], 'w'))"
    )
    spec = python(KEY, code, str(out), workdir=str(tmp_path), wants_port=True)
    spec = UnitSpec(**{**spec.__dict__, "env": {"GREETING": "hello"}})
    started = await runtime.start(spec)
    state = await wait_state(runtime, KEY)
    assert state.reason == UnitReason.COMPLETED
    seen = json.loads(out.read_text())
    assert seen["cwd"] == str(tmp_path)
    assert seen["greeting"] == "hello"
    assert seen["home"] == os.environ.get("HOME")  # the server's env is inherited
    assert int(seen["port"]) == started.port


async def test_ports_differ_between_units(runtime: LocalRuntime, python: Python) -> None:
    keys = [UnitKey("Service", "research", "api", replica) for replica in range(3)]
    ports = set()
    for key in keys:
        state = await runtime.start(python(key, "import time; time.sleep(60)", wants_port=True))
        ports.add(state.port)
    assert len(ports) == 3
    with socket.socket() as probe:  # a port nobody listens on yet is still bindable
        probe.bind(("127.0.0.1", 0))


async def test_volumes_are_created_and_kept(
    runtime: LocalRuntime, python: Python, wait_state: WaitState, tmp_path: Path
) -> None:
    code = (
        "import os, pathlib\n"
        "pathlib.Path(os.environ['SAPWOOD_VOLUME_MODEL_CACHE'], 'weights.bin').write_text('w')"
    )
    await runtime.start(python(KEY, code, volumes=(VolumeMount("model-cache", "/cache"),)))
    await wait_state(runtime, KEY)
    await runtime.forget(KEY)
    volume = tmp_path / "data" / "volumes" / "research" / "model-cache"
    assert (volume / "weights.bin").read_text() == "w"


async def test_close_leaves_units_running(
    make_runtime: Callable[..., LocalRuntime], python: Python
) -> None:
    first = make_runtime()
    started = await first.start(python(KEY, "import time; time.sleep(60)"))
    await first.close()
    assert started.pid is not None
    os.kill(started.pid, 0)  # still there
    second = make_runtime()
    (state,) = await second.observe()
    assert (state.phase, state.pid) == (UnitPhase.RUNNING, started.pid)


def mem_total_bytes() -> int:
    first_line = Path("/proc/meminfo").read_text().split("\n")[0]
    return int(first_line.split()[1]) * 1024


async def test_capacity_subtracts_the_reserve(make_runtime: Callable[..., LocalRuntime]) -> None:
    runtime = make_runtime(reserve_cpu_millis=500, reserve_memory_bytes=1 << 20)
    capacity = await runtime.capacity()
    assert capacity.cpu_millis == len(os.sched_getaffinity(0)) * 1000 - 500
    assert 0 < capacity.memory_bytes <= mem_total_bytes() - (1 << 20)
