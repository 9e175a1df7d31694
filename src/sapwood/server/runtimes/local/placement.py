"""Which cores, GPUs and ports a unit gets: pure decisions over plain data.

CPU placement follows the Kubernetes "static" CPU-manager policy: a unit asking for a whole
number of CPUs gets that many cores to itself; every other unit shares the cores nobody
holds exclusively, limited by a CFS quota rather than by placement.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable


def exclusive_core_count(cpu_millis: int) -> int:
    """Cores to pin for a request: whole CPUs only (0 for fractional or no request)."""
    if cpu_millis > 0 and cpu_millis % 1000 == 0:
        return cpu_millis // 1000
    return 0


def pick_free(pool: Iterable[int], taken: Collection[int], count: int) -> tuple[int, ...] | None:
    """The `count` lowest free ids of `pool`, or None when not enough are free.

    Lowest-first keeps allocations packed and the result deterministic."""
    if count <= 0:
        return ()
    free = sorted(set(pool) - set(taken))
    if len(free) < count:
        return None
    return tuple(free[:count])


def pick_exclusive_cores(
    all_cores: Collection[int], taken: Collection[int], count: int
) -> tuple[int, ...] | None:
    """Cores for an exclusive unit, keeping at least one core shared.

    Without a shared core the fractional units (and the server itself) would have nowhere
    left to run, so the last core is never handed out exclusively. None when not possible.
    """
    if count <= 0:
        return ()
    if len(set(all_cores) - set(taken)) - count < 1:
        return None
    return pick_free(all_cores, taken, count)


def shared_cores(all_cores: Collection[int], exclusive: Collection[int]) -> tuple[int, ...]:
    """The cores shared units may run on: everything not held exclusively (never empty)."""
    shared = sorted(set(all_cores) - set(exclusive))
    return tuple(shared) if shared else tuple(sorted(all_cores))


def cfs_quota_us(cpu_millis: int, *, period_us: int = 100_000) -> int | None:
    """CFS quota for a shared unit's request; None means unlimited (no request, or pinned)."""
    if cpu_millis <= 0 or exclusive_core_count(cpu_millis) > 0:
        return None
    # The kernel refuses quotas under 1 ms.
    return max(1000, cpu_millis * period_us // 1000)


def cuda_visible_devices(gpu_indices: Collection[int], *, host_gpus: int) -> str | None:
    """CUDA_VISIBLE_DEVICES for a unit; None leaves the variable alone (host without GPUs).

    A unit that asked for no GPU on a GPU host gets "" so it cannot grab one by accident.
    """
    if host_gpus <= 0 and not gpu_indices:
        return None
    return ",".join(str(i) for i in sorted(gpu_indices))
