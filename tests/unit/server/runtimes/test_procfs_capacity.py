"""/proc parsing, process trees and capacity arithmetic of the local runtime (pure)."""

from __future__ import annotations

import os

from sapwood.server.runtimes.local.capacity import (
    GpuInventory,
    compute_capacity,
    parse_meminfo_total,
)
from sapwood.server.runtimes.local.procfs import ProcessId, descendants, identify, parse_stat


def test_parse_stat_survives_odd_command_names() -> None:
    fields = " ".join(str(n) for n in range(6, 53))
    stat = parse_stat(f"4242 (a) b (c)) S 1 4242 {fields}")
    assert (stat.pid, stat.state, stat.ppid, stat.pgid) == (4242, "S", 1, 4242)
    assert stat.start_ticks == 22  # field 22 of the documented layout


def test_own_process_is_identified() -> None:
    me = identify(os.getpid())
    assert me is not None
    assert me.pid == os.getpid()
    assert me.start_ticks > 0
    assert identify(me.pid) == me
    assert me != ProcessId(me.pid, me.start_ticks + 1)


def test_descendants_follow_the_whole_tree() -> None:
    children = {1: [10, 11], 10: [100], 100: [1000], 11: [], 2: [20]}
    assert descendants(children, 1) == {10, 11, 100, 1000}
    assert descendants(children, 100) == {1000}
    assert descendants(children, 3) == set()


def test_parse_meminfo() -> None:
    text = "MemTotal:       24683656 kB\nMemFree:        1 kB\n"
    assert parse_meminfo_total(text) == 24683656 * 1024
    assert parse_meminfo_total("") == 0


def test_capacity_uses_the_tighter_memory_bound_minus_reserve() -> None:
    gpus = GpuInventory(2, ("H100", "H100"))
    capacity = compute_capacity(
        cores=8,
        mem_total_bytes=64 << 30,
        cgroup_limit_bytes=16 << 30,
        gpus=gpus,
        reserve_cpu_millis=500,
        reserve_memory_bytes=1 << 30,
    )
    assert (capacity.cpu_millis, capacity.memory_bytes) == (7500, 15 << 30)
    assert (capacity.gpus, capacity.gpu_models) == (2, ("H100", "H100"))
    loose = compute_capacity(
        cores=2,
        mem_total_bytes=8 << 30,
        cgroup_limit_bytes=None,
        gpus=GpuInventory(0, ()),
        reserve_cpu_millis=5000,
        reserve_memory_bytes=0,
    )
    assert (loose.cpu_millis, loose.memory_bytes, loose.gpus) == (0, 8 << 30, 0)
