"""Is a workspace or service idle? A pure decision over what each activity source saw.

A workload is idle when it has run for its whole ``idleTimeout`` and every source that
applies to it (Jupyter kernels and terminals, CPU/GPU utilisation, requests through the
gateway) has watched that whole window and seen no activity in it. A source that could not
be read, or has not watched long enough, is unknown, and unknown counts as active. A
utilisation sample is activity when it is above the object's ``idleThreshold``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.units import UnitState
from sapwood.specs.workloads import IdleThreshold


@dataclass(frozen=True)
class Signal:
    """What one activity source knows.

    ``watched_since`` is when the source began watching without a gap (None: it cannot be
    read now, so it knows nothing); ``last_active`` is the last activity it saw (None: none
    while it watched).
    """

    watched_since: datetime | None
    last_active: datetime | None = None


UNKNOWN = Signal(watched_since=None)


@dataclass(frozen=True)
class IdleDecision:
    idle: bool
    message: str


def utilisation_active(
    *, cpu_percent: float, gpu_percent: float | None, threshold: IdleThreshold
) -> bool:
    """Whether one sample (summed over the object's replicas, 100 = one core or one GPU)
    is activity: CPU or GPU use above ``threshold``; at or below it is quiet. GPU use that
    cannot be read (None) is not activity."""
    if cpu_percent > threshold.cpu:
        return True
    return gpu_percent is not None and gpu_percent > threshold.gpu


def idle_decision(
    *,
    idle_timeout: timedelta | None,
    running_since: datetime | None,
    signals: Mapping[str, Signal],
    now: datetime,
) -> IdleDecision:
    """Whether to pause now; the message says why (or why not) in words for an event.

    ``running_since`` is when the current run began (None: not running). ``signals`` names
    each source that applies ("kernels", "cpu", "requests", ...); none at all means
    nothing can show activity, which is not evidence of idleness either.
    """
    if idle_timeout is None:
        return IdleDecision(False, "no idleTimeout")
    if running_since is None:
        return IdleDecision(False, "not running")
    cutoff = now - idle_timeout
    if running_since > cutoff:
        return IdleDecision(False, "running for less than idleTimeout")
    if not signals:
        return IdleDecision(False, "no activity source")
    for name, signal in sorted(signals.items()):
        if signal.watched_since is None:
            return IdleDecision(False, f"{name}: unknown")
        if signal.watched_since > cutoff:
            return IdleDecision(False, f"{name}: watched for less than idleTimeout")
        if signal.last_active is not None and signal.last_active > cutoff:
            return IdleDecision(False, f"{name}: active at {signal.last_active.isoformat()}")
    return IdleDecision(
        True, f"no activity for {_words(idle_timeout)} ({', '.join(sorted(signals))})"
    )


def _words(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


class IdleSource(Protocol):
    """What the controller asks about activity (the utilisation monitor answers)."""

    def idle(
        self, view: ObjectView, units: Mapping[int, UnitState], *, now: datetime
    ) -> IdleDecision | None:
        """The idle decision for a running workspace or service; None for other kinds."""
        ...
