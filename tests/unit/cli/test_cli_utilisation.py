"""Utilisation lines of `sapwood describe`: used against requested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sapwood.cli.utilisation import latest_usage, utilisation_lines
from sapwood.schemas import MetricSeries

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def series(name: str, value: float, *, ago: int = 10) -> MetricSeries:
    point = {"step": None, "time": (NOW - timedelta(seconds=ago)).isoformat(), "value": value}
    point |= {"min": value, "max": value}
    return MetricSeries.model_validate({"name": name, "count": 1, "points": [point]})


def test_cpu_memory_and_gpu_against_the_request() -> None:
    usage = latest_usage(
        [
            series("loss", 0.1),  # a training metric: not utilisation
            series("sapwood.cpu_percent", 24.0),
            series("sapwood.cpu_requested_percent", 200.0),
            series("sapwood.memory_bytes", 512 * 1024**2),
            series("sapwood.memory_requested_bytes", 4 * 1024**3),
            series("sapwood.gpu_percent", 40.0),
            series("sapwood.gpu_requested_percent", 100.0),
            series("sapwood.gpu_memory_bytes", 3 * 1024**3, ago=30),
        ]
    )
    assert utilisation_lines(usage, now=NOW) == [
        "CPU 12% of 2 cores requested (0.24 used)",
        "memory 12% of 4.0Gi requested (512.0Mi used)",
        "GPU 40% of 1 GPU requested, GPU memory 3.0Gi",
        "sampled 10s ago",
    ]


def test_nothing_without_samples() -> None:
    assert utilisation_lines({}, now=NOW) == []
