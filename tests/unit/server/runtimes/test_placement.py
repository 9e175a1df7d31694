"""CPU, GPU and quota decisions of the local runtime (pure)."""

from __future__ import annotations

import pytest

from sapwood.server.runtimes.local import placement


@pytest.mark.parametrize(
    ("cpu_millis", "cores"), [(0, 0), (500, 0), (1000, 1), (1500, 0), (3000, 3), (-1000, 0)]
)
def test_only_whole_cpus_are_pinned(cpu_millis: int, cores: int) -> None:
    assert placement.exclusive_core_count(cpu_millis) == cores


def test_pick_free_takes_the_lowest_free_ids() -> None:
    assert placement.pick_free(range(8), {0, 2}, 3) == (1, 3, 4)
    assert placement.pick_free(range(2), {0}, 2) is None
    assert placement.pick_free(range(2), {0, 1}, 0) == ()


def test_exclusive_cores_always_leave_one_shared() -> None:
    cores = (0, 1, 2, 3)
    assert placement.pick_exclusive_cores(cores, set(), 3) == (0, 1, 2)
    assert placement.pick_exclusive_cores(cores, set(), 4) is None
    assert placement.pick_exclusive_cores(cores, {0, 1}, 2) is None
    assert placement.pick_exclusive_cores(cores, {0, 1}, 1) == (2,)
    assert placement.pick_exclusive_cores((0,), set(), 1) is None
    assert placement.pick_exclusive_cores((0,), set(), 0) == ()


def test_shared_cores_exclude_exclusive_ones_but_never_go_empty() -> None:
    assert placement.shared_cores((0, 1, 2, 3), {1, 2}) == (0, 3)
    assert placement.shared_cores((0, 1), {0, 1}) == (0, 1)


@pytest.mark.parametrize(
    ("cpu_millis", "quota"), [(0, None), (1000, None), (250, 25_000), (1500, 150_000), (5, 1000)]
)
def test_quota_only_for_shared_requests(cpu_millis: int, quota: int | None) -> None:
    assert placement.cfs_quota_us(cpu_millis) == quota


def test_cuda_visible_devices() -> None:
    assert placement.cuda_visible_devices((), host_gpus=0) is None
    assert placement.cuda_visible_devices((), host_gpus=2) == ""
    assert placement.cuda_visible_devices((3, 1), host_gpus=4) == "1,3"
