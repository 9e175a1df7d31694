"""LocalRuntime.usage over real processes: a busy child of the workload is counted."""

from __future__ import annotations

import anyio
import pytest

from sapwood.server.runtimes.base import UnitKey, UnitPhase
from sapwood.server.runtimes.local.runtime import LocalRuntime
from tests.integration.runtimes.conftest import python_unit

pytestmark = pytest.mark.anyio

# The workload spins in a child process (a descendant of the shim's child) and holds a
# few megabytes: the whole process tree is measured.
BUSY = """
import subprocess, sys, time
code = "x = bytearray(20 * 1024 * 1024)\\nwhile True: pass"
child = subprocess.Popen([sys.executable, "-c", code])
child.wait()
"""


async def test_a_busy_unit_reports_cpu_and_memory(runtime: LocalRuntime) -> None:
    key = UnitKey("Job", "research", "spin")
    state = await runtime.start(python_unit(key, BUSY))
    assert state.phase is UnitPhase.RUNNING
    await runtime.usage()  # the first call averages since start; the next is a delta
    with anyio.fail_after(30):
        while True:
            await anyio.sleep(0.5)
            usage = await runtime.usage()
            if key in usage and usage[key].cpu_percent > 0 and usage[key].memory_bytes > 0:
                break
    measured = usage[key]
    assert measured.gpu_percent is None  # no GPUs asked for
    assert measured.gpu_memory_bytes is None
    await runtime.stop(key, grace_period_s=1.0)
    assert key not in await runtime.usage()
