"""Helpers shared by launch_latency.py and _ray_launch.py (standard library only).

_ray_launch.py runs under Ray's own virtual environment, so nothing here may import
sapwood or any third-party package.
"""

from __future__ import annotations

import math
import resource
import shlex
import time
from collections.abc import Callable
from pathlib import Path

# The workload under test, identical for both systems: its first (and only) action is to
# write the wall-clock time at which it runs. `sh` keeps interpreter start-up small.
MARK_SCRIPT = 'date +%s.%N > "$0.tmp" && mv "$0.tmp" "$0"'
POLL_S = 0.001


def mark_command(path: Path) -> list[str]:
    """argv of a process that writes its start time to `path` (atomically, via rename)."""
    return ["sh", "-c", MARK_SCRIPT, str(path)]


def mark_shell(path: Path) -> str:
    """The same command as one shell line, for entrypoints that take a string."""
    return shlex.join(mark_command(path))


def wait_mark(path: Path, timeout_s: float) -> float | None:
    """Polls every millisecond until the workload wrote its timestamp; None on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            text = path.read_text()
        except FileNotFoundError:
            time.sleep(POLL_S)
            continue
        return float(text.strip())
    return None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values; nan when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(latencies_ms: list[float]) -> dict[str, float]:
    n = len(latencies_ms)
    return {
        "count": n,
        "p50": percentile(latencies_ms, 50),
        "p90": percentile(latencies_ms, 90),
        "p99": percentile(latencies_ms, 99),
        "mean": sum(latencies_ms) / n if n else math.nan,
        "max": max(latencies_ms) if n else math.nan,
    }


def cpu_seconds() -> tuple[float, float]:
    """(this process, its reaped children) user+system CPU seconds so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def measure(
    name: str,
    jobs: int,
    warmup: int,
    marks: Path,
    submit: Callable[[str, Path], None],
    timeout_s: float,
) -> dict[str, object]:
    """`warmup` unmeasured jobs, then `jobs` measured ones, strictly one at a time.

    For each: note the wall clock, call `submit(job_name, mark_file)`, then poll until the
    workload wrote its start time; latency = that time - the time noted. Also records how
    long `submit` itself took and the CPU time spent inside `submit` by this process and by
    the children it reaped there (CLI invocations): the client's cost of a launch. The
    polling for the file is left out of it: it is the benchmark's probe, the same for all."""
    latencies: list[float] = []
    submits: list[float] = []
    failures = 0
    cpu_self = cpu_children = 0.0
    wall_before = 0.0
    for i in range(-warmup, jobs):
        if i == 0:
            wall_before = time.monotonic()
        job = f"{name}-{i + warmup:03d}"
        mark = marks / job
        cpu_before = cpu_seconds()
        started = time.time()
        submit(job, mark)
        submitted = time.time()
        cpu_after = cpu_seconds()
        written = wait_mark(mark, timeout_s)
        if i < 0:
            continue
        cpu_self += cpu_after[0] - cpu_before[0]
        cpu_children += cpu_after[1] - cpu_before[1]
        submits.append((submitted - started) * 1000)
        if written is None:
            failures += 1
        else:
            latencies.append((written - started) * 1000)
    return {
        "latencies_ms": latencies,
        "submit_ms": submits,
        "failures": failures,
        "client_cpu_s": cpu_self,
        "client_children_cpu_s": cpu_children,
        "wall_s": time.monotonic() - wall_before,
    }
