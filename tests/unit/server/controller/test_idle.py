"""idle_decision: the decision table, under a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.controller.idle import UNKNOWN, IdleDecision, Signal, idle_decision

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
