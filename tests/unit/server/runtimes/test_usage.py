"""CPU % from cpu_times deltas, and summing usage per object."""

from __future__ import annotations

from sapwood.server.observe.usage import Totals, metric_values, sum_usage
from sapwood.server.runtimes.base import UnitKey, UnitUsage
from sapwood.server.runtimes.local.usage import CpuMark, cpu_percent
from tests.unit.server.controller.views import view


def test_first_mark_averages_since_the_processes_started() -> None:
    # One process started at t=100 used 5 CPU-seconds by t=110: half a core.
    assert cpu_percent(None, CpuMark(110.0, {7: (100.0, 5.0)})) == 50.0


def test_delta_between_marks_over_wall_time() -> None:
    before = CpuMark(100.0, {7: (50.0, 10.0), 8: (60.0, 1.0)})
    after = CpuMark(110.0, {7: (50.0, 25.0), 8: (60.0, 6.0)})
    assert cpu_percent(before, after) == 200.0  # 15 + 5 CPU-seconds in 10 s: two cores


def test_a_new_or_reused_pid_counts_from_zero_and_gone_ones_do_not_count() -> None:
    before = CpuMark(100.0, {7: (50.0, 10.0), 9: (40.0, 99.0)})
    after = CpuMark(110.0, {7: (105.0, 2.0)})  # pid 7 reused; pid 9 gone
    assert cpu_percent(before, after) == 20.0


def test_no_processes_and_no_time_are_zero() -> None:
    assert cpu_percent(None, CpuMark(100.0, {})) == 0.0
    assert cpu_percent(CpuMark(100.0, {}), CpuMark(100.0, {1: (1.0, 1.0)})) == 0.0


def test_usage_is_summed_over_replicas() -> None:
    usage = {
        UnitKey("Service", "t", "web", 0): UnitUsage(30.0, 100, 10.0, 1000),
        UnitKey("Service", "t", "web", 1): UnitUsage(20.0, 50, None, None),
        UnitKey("Job", "t", "train", 0): UnitUsage(5.0, 7),
    }
    totals = sum_usage(usage)
    assert totals[("Service", "t", "web")] == Totals(2, 50.0, 150, 10.0, 1000)
    assert totals[("Job", "t", "train")] == Totals(1, 5.0, 7, None, None)


def test_metric_values_compare_with_the_request_of_the_running_replicas() -> None:
    obj = view("Job", command=["x"], resources={"cpu": 2, "memory": "1Gi", "gpu": 1})
    values = metric_values(obj, Totals(2, 50.0, 150, None, None))
    assert values == {
        "sapwood.cpu_percent": 50.0,
        "sapwood.memory_bytes": 150.0,
        "sapwood.cpu_requested_percent": 400.0,
        "sapwood.memory_requested_bytes": 2.0 * 1024**3,
        "sapwood.gpu_requested_percent": 200.0,
    }
