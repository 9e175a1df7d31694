"""What differs per kind, in one place: a ``KindPolicy`` per kind (``kinds.py`` holds the
registry). Everything else in the controller is the same for every kind and asks the
policy instead of checking the kind.

Adding a kind: a planner module with its policy (see ``job.py``), one line in
``kinds.KIND_POLICIES``, and its spec in ``sapwood.specs.objects``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.idle import IdleDecision
from sapwood.server.controller.plan.scheduler import Role
from sapwood.server.controller.plan.units import UnitContext
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitKey, UnitState
from sapwood.specs.probes import Probe


@dataclass(frozen=True)
class FeedInputs:
    """What a pass read for one feed: its backlog and what its model reference names."""

    backlog: int = 0
    model_version: int | None = None
    model_problem: str | None = None  # why the reference names nothing; None: it resolves


@dataclass(frozen=True)
class PlanInputs:
    """What a pass gives every planner besides the object and its units; each kind reads
    what it needs (a Service its probes' verdicts, a Feed its backlog)."""

    now: datetime
    context: UnitContext
    health: Mapping[UnitKey, Health] = field(default_factory=dict)
    idle: IdleDecision | None = None  # the utilisation monitor's verdict, when it has one
    feed: FeedInputs = field(default_factory=FeedInputs)


@dataclass(frozen=True)
class Probes:
    """The probes the controller's prober runs against each running replica."""

    readiness: Probe | None = None
    liveness: Probe | None = None

    @property
    def any(self) -> bool:
        return self.readiness is not None or self.liveness is not None


class KindPolicy(Protocol):
    """One kind's answers to what the controller asks of every object."""

    @property
    def kind(self) -> str:
        """The kind this policy is for ("Job", "Service", ...)."""
        ...

    @property
    def surges(self) -> bool:
        """Whether a rolling update runs an extra replica (``rollout.SURGE``) that holds
        room like any replica while it runs."""
        ...

    @property
    def takes_records(self) -> bool:
        """Whether the kind takes records through a feed: a pass reads its backlog and
        model (``FeedInputs``), and its records and results go when it is removed."""
        ...

    def plan(self, view: ObjectView, units: dict[int, UnitState], inputs: PlanInputs) -> Plan:
        """One pass for one object: what to start or stop, and its next status."""
        ...

    def base_replicas(self, view: ObjectView) -> int:
        """How many replicas are admitted together, as one gang."""
        ...

    def elastic_limit(self, view: ObjectView) -> int:
        """How many elastic replicas (one workload each, on idle capacity) it may have
        above ``base_replicas``."""
        ...

    def role(self, view: ObjectView) -> Role:
        """How the scheduler may treat it (a protected one is never preempted)."""
        ...

    def run_ended(self, status: Mapping[str, Any]) -> bool:
        """Whether ``status`` ends the object's run, and with it its workload token."""
        ...

    def wants_load(self, view: ObjectView) -> bool:
        """Whether a pass needs the gateway's load figures for it."""
        ...

    def probes(self, view: ObjectView) -> Probes:
        """The probes to run against its running replicas (none for most kinds)."""
        ...


class DefaultPolicy:
    """The answers most kinds share: one gang, nothing elastic, preemptible, runs until
    deleted, no load figures, no probes. Subclasses say what differs."""

    kind = ""
    surges = False
    takes_records = False

    def base_replicas(self, view: ObjectView) -> int:
        return 1

    def elastic_limit(self, view: ObjectView) -> int:
        return 0

    def role(self, view: ObjectView) -> Role:
        return Role.REGULAR

    def run_ended(self, status: Mapping[str, Any]) -> bool:
        return False

    def wants_load(self, view: ObjectView) -> bool:
        return False

    def probes(self, view: ObjectView) -> Probes:
        return Probes()


def elastic_admitted(view: ObjectView, limit: int) -> int:
    """The elastic replicas admission granted (``status.elasticReplicas``), within
    ``limit``, the kind's ``elastic_limit``."""
    return min(int(view.status.get("elasticReplicas", 0)), limit)
