"""A Job's runs: the status a rerun starts from, and the history of the runs before.

A finished Job (Succeeded or Failed) can be run again with the same spec. Its status then
starts afresh (Pending, reason ``Rerun``) with ``run`` counting up from 1 and ``history``
holding the outcome of each earlier run, newest last (at most ``HISTORY_KEPT``). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sapwood.schemas.status import Phase
from sapwood.server.controller.plan.lifecycle import TERMINAL

RERUN = "Rerun"
HISTORY_KEPT = 20
# What a run's outcome keeps of its status; the replica records and timers go.
_OUTCOME_KEYS = (
    "phase",
    "reason",
    "message",
    "startedAt",
    "finishedAt",
    "succeeded",
    "failures",
    "restarts",
)


def run_number(status: Mapping[str, Any]) -> int:
    """Which run the status describes: 1 for a Job never rerun."""
    value = status.get("run", 1)
    return value if isinstance(value, int) and value >= 1 else 1


def history(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The earlier runs' outcomes, oldest first (empty for a Job never rerun)."""
    items = status.get("history")
    if not isinstance(items, list):
        return []
    return [dict(item) for item in items if isinstance(item, dict)]


def can_rerun(status: Mapping[str, Any]) -> bool:
    return status.get("phase") in TERMINAL


def rerun_status(status: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """The status of the next run of a finished Job: Pending, its outcome moved to history.

    The caller checks ``can_rerun`` first; the spec (and its generation) is unchanged.
    """
    number = run_number(status)
    outcome: dict[str, Any] = {"run": number}
    outcome.update({k: status[k] for k in _OUTCOME_KEYS if status.get(k) is not None})
    return {
        "phase": Phase.PENDING.value,
        "phaseSince": now.isoformat(),
        "reason": RERUN,
        "message": f"run {number + 1} requested; waiting for admission",
        "run": number + 1,
        "history": [*history(status), outcome][-HISTORY_KEPT:],
    }


def outcome_text(outcome: Mapping[str, Any]) -> str:
    """``run 1 Failed (BackoffLimitExceeded)``: one earlier run in a few words."""
    reason = outcome.get("reason")
    why = f" ({reason})" if reason and reason != "Completed" else ""
    return f"run {outcome.get('run', '?')} {outcome.get('phase', Phase.UNKNOWN)}{why}"


def awaiting_first_start(status: Mapping[str, Any]) -> bool:
    """A rerun that has not started a replica yet: any unit still around is an earlier
    run's, and must go before this run starts (its exit is not this run's)."""
    return run_number(status) > 1 and not status.get("startedAt")
