"""Utilisation on /metrics: sapwood_workload_* gauges per (team, kind, name), parsed back."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from sapwood.server.observe.prometheus import Snapshot, families

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Fixed:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> list[Metric]:
        return families(self.snapshot)


def parsed(snapshot: Snapshot) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(Fixed(snapshot))
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[labels] = sample.value
    return out


def test_utilisation_gauges_per_workload() -> None:
    usage = {
        ("Job", "research", "train"): {
            "sapwood.cpu_percent": 150.0,
            "sapwood.memory_bytes": 2048.0,
            "sapwood.cpu_requested_percent": 400.0,
            "sapwood.memory_requested_bytes": 4096.0,
            "sapwood.gpu_percent": 80.0,
            "sapwood.gpu_memory_bytes": 1e9,
            "sapwood.gpu_requested_percent": 100.0,
        },
        ("Workspace", "ops", "lab"): {"sapwood.cpu_percent": 0.5, "sapwood.memory_bytes": 1.0},
    }
    text = parsed(Snapshot(now=NOW, usage=usage))
    train = (("kind", "Job"), ("name", "train"), ("team", "research"))
    lab = (("kind", "Workspace"), ("name", "lab"), ("team", "ops"))
    assert text["sapwood_workload_cpu_percent"] == {train: 150.0, lab: 0.5}
    assert text["sapwood_workload_memory_bytes"] == {train: 2048.0, lab: 1.0}
    assert text["sapwood_workload_cpu_requested_percent"] == {train: 400.0}
    assert text["sapwood_workload_memory_requested_bytes"] == {train: 4096.0}
    assert text["sapwood_workload_gpu_percent"] == {train: 80.0}  # lab has no GPU figures
    assert text["sapwood_workload_gpu_memory_bytes"] == {train: 1e9}
    assert text["sapwood_workload_gpu_requested_percent"] == {train: 100.0}


def test_no_running_workload_means_no_utilisation_samples() -> None:
    text = parsed(Snapshot(now=NOW))
    assert "sapwood_workload_cpu_percent" not in text
