"""How many replicas a Service wants: a pure function of load, spec, room and the clock.

The rules are Knative's (KPA): average the per-replica metric over a stable window
(60 s by default) and over a short panic window (6 s); when the panic window alone asks
for ``panicThreshold`` times the ready replicas, panic: follow the panic window and never
scale down until a whole stable window has passed calmly. A service with
``replicas.min: 0`` goes to zero after ``scaleToZeroGrace`` without requests, and comes
back as soon as the gateway holds a request for it. Growth stops at the free capacity:
the autoscaler never asks for replicas that would need to push other work out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sapwood.specs.serving import Autoscale


@dataclass(frozen=True)
class Second:
    """One second of a service's traffic as the gateway saw it."""

    at: datetime  # the start of the second
    requests: int
    concurrency: float  # in-flight requests averaged over the second


@dataclass(frozen=True)
class Load:
    """The gateway's recent view of one service."""

    seconds: Sequence[Second]
    in_flight: int = 0
    held: int = 0  # requests waiting because no replica is ready
    last_request_at: datetime | None = None


@dataclass(frozen=True)
class ScaleState:
    """What the autoscaler remembers between passes (kept in ``status.autoscaler``)."""

    desired: int
    panic_since: datetime | None = None
    last_active_at: datetime | None = None

    def to_dict(self, reason: str) -> dict[str, Any]:
        out: dict[str, Any] = {"desired": self.desired, "reason": reason}
        if self.panic_since is not None:
            out["panicSince"] = self.panic_since.isoformat()
        if self.last_active_at is not None:
            out["lastActiveAt"] = self.last_active_at.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: object, default: int) -> ScaleState:
        if not isinstance(data, dict):
            return cls(desired=default)
        return cls(
            desired=int(data.get("desired", default)),
            panic_since=_time(data.get("panicSince")),
            last_active_at=_time(data.get("lastActiveAt")),
        )


@dataclass(frozen=True)
class Bounds:
    minimum: int
    maximum: int
    ready: int  # replicas serving now
    current: int  # replicas running or admitted now
    room: int  # more replicas that fit in free capacity without preempting anything


@dataclass(frozen=True)
class Decision:
    desired: int
    state: ScaleState
    reason: str


def decide(
    load: Load | None,
    spec: Autoscale,
    bounds: Bounds,
    state: ScaleState | None,
    *,
    now: datetime,
) -> Decision:
    """The replicas wanted now, with the state to remember and a sentence saying why."""
    previous = state or ScaleState(desired=bounds.current)
    if load is None:  # the gateway could not be asked: unknown counts as busy
        desired = _clamp(previous.desired, bounds)
        return Decision(desired, previous, "no load figures from the gateway; holding")

    stable = _average(load.seconds, spec, spec.stable_window, now)
    panic = _average(load.seconds, spec, spec.panic_window, now)
    want_stable = math.ceil(stable / spec.target - 1e-9)
    want_panic = math.ceil(panic / spec.target - 1e-9)
    unit = "concurrent" if spec.metric == "concurrency" else "requests/s"

    panic_since = previous.panic_since
    if panic > 0 and want_panic >= spec.panic_threshold * max(bounds.ready, 1):
        panic_since = panic_since or now
    elif panic_since is not None and now - panic_since >= spec.stable_window:
        panic_since = None

    if panic_since is not None:
        desired = max(want_panic, previous.desired)
        reason = f"panic: {panic:.1f} {unit} over {_secs(spec.panic_window)}"
    else:
        desired = want_stable
        reason = f"{stable:.1f} {unit} over {_secs(spec.stable_window)}"
    reason += f" at target {spec.target:g} per replica"

    active = stable > 0 or load.in_flight > 0 or load.held > 0
    last_active = now if active else previous.last_active_at
    if load.last_request_at is not None and (
        last_active is None or load.last_request_at > last_active
    ):
        last_active = load.last_request_at
    if desired == 0 and bounds.current > 0:
        idle_for = now - last_active if last_active is not None else None
        if idle_for is None or idle_for >= spec.scale_to_zero_grace:
            reason = f"no requests for {_secs(spec.scale_to_zero_grace)}: scale to zero"
        else:
            desired = 1
            reason = f"idle for {_secs(idle_for)}; zero after {_secs(spec.scale_to_zero_grace)}"
    if load.held > 0 and desired < 1:
        desired = 1
        reason = f"{load.held} request(s) held while no replica is ready"

    wanted = desired
    desired = _clamp(desired, bounds)
    if desired > bounds.current + bounds.room:
        desired = max(bounds.minimum, bounds.current + bounds.room)
        reason += f"; capped at {desired} by free capacity (wanted {wanted})"
    elif desired != wanted:
        reason += f"; kept within {bounds.minimum}..{bounds.maximum}"
    return Decision(desired, ScaleState(desired, panic_since, last_active), reason)


def _average(seconds: Sequence[Second], spec: Autoscale, window: timedelta, now: datetime) -> float:
    """The metric averaged over the window; seconds without traffic count as zero."""
    start = now - window
    total = 0.0
    for second in seconds:
        if start <= second.at < now:
            total += second.concurrency if spec.metric == "concurrency" else second.requests
    return total / max(window.total_seconds(), 1.0)


def _clamp(desired: int, bounds: Bounds) -> int:
    return max(bounds.minimum, min(bounds.maximum, desired))


def _secs(span: timedelta) -> str:
    return f"{int(span.total_seconds())}s"


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
