"""The Prometheus families of a snapshot, and the pass-duration histogram's feed."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from sapwood.server.observe.prometheus import (
    ObjectFacts,
    PassDurations,
    Snapshot,
    facts_of,
    families,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class Fixed:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> list[Metric]:
        return families(self.snapshot)


def rendered(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(Fixed(snapshot))
    return samples(registry)


def took(seconds: str) -> float:
    """A pass's duration: its own float object, as each time.monotonic() difference is."""
    return float(seconds)


def waiting(team: str, name: str, minutes: float) -> ObjectFacts:
    return ObjectFacts("Job", team, name, "Pending", 0, NOW - timedelta(minutes=minutes))


def test_objects_queues_preemptions_and_restarts() -> None:
    snapshot = Snapshot(
        now=NOW,
        objects=[
            waiting("ml", "a", 5),
            waiting("ml", "b", 2),
            ObjectFacts("Job", "ml", "c", "Running", 3, None),
            ObjectFacts("Service", "web", "api", "Running", 1, None),
        ],
        preemptions={"ml": 4},
        controller_passes=17,
    )
    got = rendered(snapshot)
    assert got["sapwood_objects", (("kind", "Job"), ("phase", "Pending"), ("team", "ml"))] == 2
    assert got["sapwood_objects", (("kind", "Job"), ("phase", "Running"), ("team", "ml"))] == 1
    assert got["sapwood_queue_length", (("team", "ml"),)] == 2
    assert got["sapwood_queue_length", (("team", "web"),)] == 0
    assert got["sapwood_queue_oldest_wait_seconds", (("team", "ml"),)] == 300
    assert got["sapwood_queue_oldest_wait_seconds", (("team", "web"),)] == 0
    assert got["sapwood_preemptions_total", (("team", "ml"),)] == 4
    assert got["sapwood_workload_restarts", (("kind", "Job"), ("name", "c"), ("team", "ml"))] == 3
    assert got["sapwood_controller_passes_total", ()] == 17


def test_without_a_controller_its_counter_is_absent() -> None:
    names = {f.name for f in families(Snapshot(now=NOW))}
    assert "sapwood_controller_passes" not in names
    assert "sapwood_objects" in names


def test_facts_from_a_stored_status() -> None:
    since = (NOW - timedelta(minutes=1)).isoformat()
    pending = facts_of(
        "Job", "ml", "a", {"phase": "Pending", "phaseSince": since}, created_at=NOW, deleting=False
    )
    assert pending.waiting_since == NOW - timedelta(minutes=1)
    fresh = facts_of("Job", "ml", "b", {"phase": "Pending"}, created_at=NOW, deleting=False)
    assert fresh.waiting_since == NOW
    running = facts_of(
        "Job", "ml", "c", {"phase": "Running", "restarts": 2}, created_at=NOW, deleting=False
    )
    assert (running.phase, running.restarts, running.waiting_since) == ("Running", 2, None)
    going = facts_of("Job", "ml", "d", {"phase": "Pending"}, created_at=NOW, deleting=True)
    assert (going.phase, going.waiting_since) == ("Terminating", None)


def test_pass_durations_are_counted_once_across_scrapes() -> None:
    registry = CollectorRegistry()
    feed = PassDurations(registry)
    window: deque[float] = deque(maxlen=4)
    count = ("sapwood_controller_pass_duration_seconds_count", ())
    total = ("sapwood_controller_pass_duration_seconds_sum", ())

    window.extend([took("0.5"), took("0.25")])
    feed.update(window, 2)
    feed.update(window, 2)  # nothing new
    assert samples(registry)[count] == 2
    window.extend([took("1"), took("1"), took("1")])  # 0.5 leaves the window; 3 are new
    feed.update(window, 5)
    assert samples(registry)[count] == 5
    assert samples(registry)[total] == 3.75
    window.extend(took("2") for _ in range(6))  # more than the window holds: 4 are counted
    feed.update(window, 11)
    assert samples(registry)[count] == 9
    assert samples(registry)[total] == 11.75
