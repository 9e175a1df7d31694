"""What this machine can allocate: cores, memory (or the server's cgroup limit), GPUs."""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sapwood.server.runtimes.base import Capacity
from sapwood.server.runtimes.local import cgroups


@dataclass(frozen=True)
class GpuInventory:
    count: int
    models: tuple[str, ...]


def parse_meminfo_total(text: str) -> int:
    """MemTotal in bytes from /proc/meminfo text; 0 when absent."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def compute_capacity(
    *,
    cores: int,
    mem_total_bytes: int,
    cgroup_limit_bytes: int | None,
    gpus: GpuInventory,
    reserve_cpu_millis: int,
    reserve_memory_bytes: int,
) -> Capacity:
    """Allocatable capacity: the smaller of RAM and the server's cgroup limit, minus the
    reserve, never negative."""
    memory = mem_total_bytes
    if cgroup_limit_bytes is not None and 0 < cgroup_limit_bytes < memory:
        memory = cgroup_limit_bytes
    return Capacity(
        cpu_millis=max(0, cores * 1000 - reserve_cpu_millis),
        memory_bytes=max(0, memory - reserve_memory_bytes),
        gpus=gpus.count,
        gpu_models=gpus.models,
    )


def read_gpus() -> GpuInventory:
    """GPUs through NVML when nvidia-ml-py is installed and a driver answers; else none."""
    try:
        # Imported by name: nvidia-ml-py is optional and has no type stubs.
        nvml: Any = importlib.import_module("pynvml")
        nvml.nvmlInit()
    except Exception:
        return GpuInventory(0, ())
    try:
        count = int(nvml.nvmlDeviceGetCount())
        models = []
        for index in range(count):
            name = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(index))
            models.append(name.decode() if isinstance(name, bytes) else str(name))
        return GpuInventory(count, tuple(models))
    except Exception:
        return GpuInventory(0, ())
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def usable_cores() -> tuple[int, ...]:
    """Cores this server may use (its affinity mask, which containers narrow)."""
    return tuple(sorted(os.sched_getaffinity(0)))


def read_capacity(
    *, reserve_cpu_millis: int, reserve_memory_bytes: int, gpus: GpuInventory
) -> Capacity:
    """Blocking: reads /proc and cgroupfs. Call from a worker thread."""
    try:
        mem_total = parse_meminfo_total(Path("/proc/meminfo").read_text())
    except OSError:
        mem_total = 0
    return compute_capacity(
        cores=len(usable_cores()),
        mem_total_bytes=mem_total,
        cgroup_limit_bytes=cgroups.read_own_memory_limit(),
        gpus=gpus,
        reserve_cpu_millis=reserve_cpu_millis,
        reserve_memory_bytes=reserve_memory_bytes,
    )
