"""idle_decision: the decision table, under a fixed clock; utilisation_active: a sample
against the object's idleThreshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.controller.plan.idle import (
    UNKNOWN,
    IdleDecision,
    Signal,
    idle_decision,
    utilisation_active,
)
from sapwood.specs.workloads import IdleThreshold

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LONG_AGO = NOW - 5 * HOUR
QUIET = Signal(watched_since=LONG_AGO, last_active=NOW - 3 * HOUR)
NEVER = Signal(watched_since=LONG_AGO, last_active=None)


def decide(
    signals: dict[str, Signal],
    *,
    timeout: timedelta | None = 2 * HOUR,
    since: datetime | None = LONG_AGO,
) -> IdleDecision:
    return idle_decision(idle_timeout=timeout, running_since=since, signals=signals, now=NOW)


@pytest.mark.parametrize(
    ("signals", "timeout", "since", "idle", "why"),
    [
        ({"cpu": QUIET}, None, LONG_AGO, False, "no idleTimeout"),
        ({"cpu": QUIET}, 2 * HOUR, None, False, "not running"),
        ({"cpu": QUIET}, 2 * HOUR, NOW - HOUR, False, "running for less"),
        ({}, 2 * HOUR, LONG_AGO, False, "no activity source"),
        ({"cpu": QUIET, "kernels": UNKNOWN}, 2 * HOUR, LONG_AGO, False, "kernels: unknown"),
        (
            {"cpu": Signal(NOW - HOUR)},
            2 * HOUR,
            LONG_AGO,
            False,
            "cpu: watched for less than idleTimeout",
        ),
        (
            {"cpu": QUIET, "kernels": Signal(LONG_AGO, NOW - timedelta(minutes=5))},
            2 * HOUR,
            LONG_AGO,
            False,
            "kernels: active",
        ),
        ({"cpu": QUIET, "kernels": NEVER}, 2 * HOUR, LONG_AGO, True, "no activity for 2h"),
        ({"requests": NEVER}, 2 * HOUR, LONG_AGO, True, "(requests)"),
        # Exactly idleTimeout ago is idle: activity must be newer than the cut-off.
        ({"cpu": Signal(LONG_AGO, NOW - 2 * HOUR)}, 2 * HOUR, NOW - 2 * HOUR, True, "no activity"),
    ],
)
def test_decision_table(
    signals: dict[str, Signal],
    timeout: timedelta | None,
    since: datetime | None,
    idle: bool,
    why: str,
) -> None:
    decision = decide(signals, timeout=timeout, since=since)
    assert decision.idle is idle
    assert why in decision.message


def test_the_message_names_the_timeout_and_the_sources() -> None:
    decision = decide({"utilisation": NEVER, "kernels": NEVER}, timeout=timedelta(minutes=90))
    assert decision.message == "no activity for 90m (kernels, utilisation)"


# --- utilisation samples against the object's idleThreshold ---------------------------

DEFAULT = IdleThreshold()


@pytest.mark.parametrize(
    ("cpu", "gpu", "threshold", "active"),
    [
        (8.0, None, IdleThreshold(cpu=10), False),  # a background process under the bar
        (8.0, None, DEFAULT, True),  # the same process at the default 5%
        (10.0, None, IdleThreshold(cpu=10), False),  # at the threshold is still quiet
        (10.5, None, IdleThreshold(cpu=10), True),
        (3.0, None, IdleThreshold(cpu=2), True),  # health checks above a stricter bar
        (1.0, 30.0, IdleThreshold(gpu=50), False),
        (1.0, 30.0, DEFAULT, True),  # GPU use alone is activity
        (150.0, None, IdleThreshold(cpu=200), False),  # summed over replicas: above 100
    ],
)
def test_a_sample_is_activity_only_above_the_threshold(
    cpu: float, gpu: float | None, threshold: IdleThreshold, active: bool
) -> None:
    assert utilisation_active(cpu_percent=cpu, gpu_percent=gpu, threshold=threshold) is active


def test_a_custom_threshold_lets_a_busy_background_process_idle() -> None:
    # Samples every 15 minutes for 5 hours at 8% of one core; the watch records the last
    # active sample and the pure decision reads it.
    samples = [LONG_AGO + timedelta(minutes=15 * i) for i in range(21)]

    def decide_with(threshold: IdleThreshold) -> IdleDecision:
        active = [
            t
            for t in samples
            if utilisation_active(cpu_percent=8.0, gpu_percent=None, threshold=threshold)
        ]
        signal = Signal(watched_since=samples[0], last_active=max(active, default=None))
        return decide({"utilisation": signal})

    assert decide_with(IdleThreshold(cpu=10)).idle is True
    assert "utilisation: active" in decide_with(DEFAULT).message
