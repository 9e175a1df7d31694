"""Probe verdicts with thresholds: a pure state machine per probe and replica run, and
the verdict per replica run the planners read (``Health``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sapwood.specs.probes import Probe


@dataclass(frozen=True)
class Health:
    """What the prober last concluded about one run of one replica."""

    ready: bool = False
    live: bool = True
    message: str = ""


@dataclass(frozen=True)
class ProbeState:
    """Consecutive results of one probe on one run of one replica."""

    passing: bool
    successes: int = 0
    failures: int = 0
    message: str = ""


def initial(*, readiness: bool) -> ProbeState:
    """Readiness starts failing (no traffic until it passes); liveness starts passing."""
    return ProbeState(passing=not readiness)


def judge(state: ProbeState, ok: bool, probe: Probe, message: str = "") -> ProbeState:
    """The state after one result: flips after successThreshold passes or
    failureThreshold failures in a row."""
    if ok:
        successes = state.successes + 1
        passing = state.passing or successes >= probe.success_threshold
        return replace(state, passing=passing, successes=successes, failures=0, message="")
    failures = state.failures + 1
    passing = state.passing and failures < probe.failure_threshold
    return replace(state, passing=passing, successes=0, failures=failures, message=message)
