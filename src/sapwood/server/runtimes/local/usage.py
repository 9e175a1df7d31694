"""What local units use: CPU and RSS from psutil over each unit's processes, GPUs from NVML.

CPU % is the CPU time the unit's processes spent between two calls, over the wall time
between them (100 = one full core). A process is matched across calls by pid and start
time, so a reused pid starts from zero. Blocking: call from a worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import psutil

from sapwood.server.runtimes.base import UnitKey, UnitUsage

log = logging.getLogger(__name__)

# pid -> (start time as epoch seconds, CPU seconds used so far: user + system)
CpuTimes = Mapping[int, tuple[float, float]]


@dataclass(frozen=True)
class CpuMark:
    """One unit's CPU times at one wall-clock moment."""

    time: float
    times: CpuTimes


def cpu_percent(previous: CpuMark | None, current: CpuMark) -> float:
    """CPU % between two marks (100 = one core); since the processes started when
    there is no previous mark. Processes gone since the previous mark are not counted."""
    used = 0.0
    for pid, (started, cpu_s) in current.times.items():
        before = previous.times.get(pid) if previous is not None else None
        if before is not None and before[0] == started:
            used += max(cpu_s - before[1], 0.0)
        else:  # new since the previous mark (or a reused pid): all its time counts
            used += cpu_s
    if previous is not None:
        since = previous.time
    else:
        since = min((started for started, _ in current.times.values()), default=current.time)
    elapsed = current.time - since
    return 0.0 if elapsed <= 0 else round(100.0 * used / elapsed, 2)


def read_processes(pids: Set[int]) -> tuple[dict[int, tuple[float, float]], int]:
    """(CPU times by pid, summed RSS) of the processes still alive."""
    times: dict[int, tuple[float, float]] = {}
    rss = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                cpu = proc.cpu_times()
                times[pid] = (proc.create_time(), cpu.user + cpu.system)
                rss += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return times, rss


@dataclass
class _Nvml:
    """NVML, loaded on first use; `module` stays None when it cannot be."""

    tried: bool = False
    module: ModuleType | None = None
    last_seen_us: dict[int, int] = field(default_factory=dict)  # per GPU index


class UsageMeter:
    """Keeps the previous CPU marks between calls; one per LocalRuntime."""

    def __init__(self, *, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._marks: dict[UnitKey, CpuMark] = {}
        self._nvml = _Nvml()

    def measure(
        self, units: Mapping[UnitKey, tuple[Set[int], tuple[int, ...]]]
    ) -> dict[UnitKey, UnitUsage]:
        """Usage of each unit, given its pids (shim excluded) and its GPU indices."""
        out: dict[UnitKey, UnitUsage] = {}
        for key, (pids, gpus) in units.items():
            times, rss = read_processes(pids)
            mark = CpuMark(self._wall(), times)
            percent = cpu_percent(self._marks.get(key), mark)
            self._marks[key] = mark
            gpu_percent, gpu_memory = self._gpu_usage(gpus, set(times)) if gpus else (None, None)
            out[key] = UnitUsage(percent, rss, gpu_percent, gpu_memory)
        for key in set(self._marks) - set(units):  # units gone: forget their marks
            del self._marks[key]
        return out

    def _gpu_usage(
        self, indices: tuple[int, ...], pids: Set[int]
    ) -> tuple[float | None, int | None]:
        nvml = self._load_nvml()
        if nvml is None or not pids:
            return None, None
        try:
            percent, memory = 0.0, 0
            for index in indices:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    if proc.pid in pids and proc.usedGpuMemory:
                        memory += int(proc.usedGpuMemory)
                percent += self._gpu_percent(nvml, index, handle, pids)
            return round(percent, 2), memory
        except Exception as exc:  # NVML errors are many and driver-specific
            log.debug("NVML could not read GPUs %s: %s", indices, exc)
            return None, None

    def _gpu_percent(self, nvml: Any, index: int, handle: Any, pids: Set[int]) -> float:
        """The mean SM utilisation of the unit's processes on one GPU since the last read."""
        since = self._nvml.last_seen_us.get(index, 0)
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, since)
        except nvml.NVMLError_NotFound:  # no samples since the last read: idle
            return 0.0
        by_pid: dict[int, list[float]] = {}
        for sample in samples:
            self._nvml.last_seen_us[index] = max(
                self._nvml.last_seen_us.get(index, 0), int(sample.timeStamp)
            )
            if sample.pid in pids:
                by_pid.setdefault(sample.pid, []).append(float(sample.smUtil))
        return sum(sum(v) / len(v) for v in by_pid.values())

    def _load_nvml(self) -> Any:
        if not self._nvml.tried:
            self._nvml.tried = True
            try:
                import pynvml  # type: ignore[import-untyped]

                pynvml.nvmlInit()
                self._nvml.module = pynvml
            except Exception as exc:  # no driver, no library: GPUs read as unknown
                log.info("NVML not available, GPU usage unknown: %s", exc)
        return self._nvml.module
