"""Restart delays, and the probe threshold state machine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.server.controller.plan.backoff import restart_delay
from sapwood.server.controller.plan.health import ProbeState, initial, judge
from sapwood.specs.probes import Backoff, Probe


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (7, 300), (1000, 300)],
)
def test_default_restart_delay_doubles_from_10s_up_to_5m(failures: int, seconds: int) -> None:
    assert restart_delay(failures, Backoff()) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("failures", "seconds"), [(1, 1), (2, 2), (3, 4), (4, 5), (50, 5)])
def test_restart_delay_follows_the_policy(failures: int, seconds: int) -> None:
    policy = Backoff.model_validate({"initial": "1s", "max": "5s"})
    assert restart_delay(failures, policy) == timedelta(seconds=seconds)


def probe(failures: int = 3, successes: int = 1) -> Probe:
    return Probe.model_validate(
        {"http": {"path": "/healthz"}, "failureThreshold": failures, "successThreshold": successes}
    )


def run(state: ProbeState, results: str, p: Probe) -> list[bool]:
    """Feeds results ("+" pass, "-" fail) and returns the verdict after each."""
    verdicts = []
    for result in results:
        state = judge(state, result == "+", p, "" if result == "+" else "HTTP 503 from /healthz")
        verdicts.append(state.passing)
    return verdicts


@pytest.mark.parametrize(
    ("readiness", "failures", "successes", "results", "verdicts"),
    [
        pytest.param(True, 3, 1, "+", [True], id="readiness-passes-after-one-success"),
        pytest.param(True, 3, 2, "++", [False, True], id="readiness-needs-success-threshold"),
        pytest.param(
            True, 3, 2, "+-+", [False, False, False], id="a-failure-resets-the-success-streak"
        ),
        pytest.param(
            True, 3, 1, "+--+", [True, True, True, True], id="fewer-failures-than-threshold"
        ),
        pytest.param(True, 2, 1, "+--", [True, True, False], id="ready-lost-at-failure-threshold"),
        pytest.param(False, 3, 1, "--", [True, True], id="liveness-starts-passing"),
        pytest.param(False, 3, 1, "---", [True, True, False], id="liveness-fails-at-threshold"),
        pytest.param(False, 3, 1, "--+--", [True] * 5, id="a-success-resets-the-failure-streak"),
        pytest.param(False, 1, 1, "-+", [False, True], id="recovers-after-success-threshold"),
    ],
)
def test_judge_thresholds(
    readiness: bool, failures: int, successes: int, results: str, verdicts: list[bool]
) -> None:
    assert run(initial(readiness=readiness), results, probe(failures, successes)) == verdicts


def test_readiness_starts_failing_and_liveness_passing() -> None:
    assert initial(readiness=True).passing is False
    assert initial(readiness=False).passing is True


def test_a_failing_verdict_keeps_the_last_message_and_a_pass_clears_it() -> None:
    p = probe(failures=1)
    failed = judge(initial(readiness=False), False, p, "HTTP 500 from /healthz")
    assert (failed.passing, failed.message) == (False, "HTTP 500 from /healthz")
    assert judge(failed, True, p).message == ""
