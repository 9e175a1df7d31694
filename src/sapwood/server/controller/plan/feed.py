"""Feeds: keep as many feed workers up as the backlog asks for, within workers.min..max,
and say so when the model they score with does not exist.

``next_workers`` is the pure decision (tested by a decision table); ``model_problem`` says
why a model reference names nothing; ``plan_feed`` turns both into replicas like a
Service's. What a pass reads from the store for feeds is loaded by
``controller.feed_inputs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sapwood.schemas.status import Phase, read_target
from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.lifecycle import (
    PREEMPTED,
    plan_deletion,
    plan_settled,
    with_phase,
)
from sapwood.server.controller.plan.policy import (
    DefaultPolicy,
    FeedInputs,
    PlanInputs,
    elastic_admitted,
)
from sapwood.server.controller.plan.supervise import keep_replicas
from sapwood.server.controller.plan.units import UnitContext
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitState
from sapwood.specs.objects import Feed
from sapwood.specs.probes import Backoff

MODEL_NOT_FOUND = "ModelNotFound"
MODEL_FOUND = "ModelFound"
DEGRADED = Phase.DEGRADED


@dataclass(frozen=True)
class ModelIndex:
    """A team's model: its version numbers and aliases."""

    versions: frozenset[int] = frozenset()
    aliases: Mapping[str, int] = field(default_factory=dict)


def model_problem(
    ref: str, team: str, model: ModelIndex | None, *, version: int | None
) -> str | None:
    """None when ``ref`` (NAME@REF) resolves to ``version``; otherwise why not, in words."""
    if version is not None:
        return None
    name, _, at = ref.partition("@")
    missing = f"{ref} does not exist in team {team}"
    if model is None or not model.versions:
        return f"{missing}: there is no model {name} (push one: sapwood models push)"
    known = ", ".join(str(v) for v in sorted(model.versions))
    aliases = ", ".join(sorted(model.aliases)) or "none"
    what = "version" if at.isascii() and at.isdigit() else "alias"
    return f"{missing}: model {name} has no {what} {at} (versions {known}; aliases {aliases})"


def desired_workers(backlog: int, *, minimum: int, maximum: int, target_per_worker: int) -> int:
    """ceil(backlog / target_per_worker), held within minimum..maximum (as KEDA does)."""
    wanted = -(-max(0, backlog) // max(1, target_per_worker))
    return max(minimum, min(maximum, wanted))


def next_workers(
    current: int, backlog: int, *, minimum: int, maximum: int, target_per_worker: int
) -> int:
    """Scale up at once; scale down only once the backlog is drained, so workers are not
    stopped mid-flight while records still wait."""
    wanted = desired_workers(
        backlog, minimum=minimum, maximum=maximum, target_per_worker=target_per_worker
    )
    if wanted >= current or backlog == 0:
        return wanted
    return max(minimum, min(maximum, current))


def plan_feed(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    inputs: FeedInputs,
) -> Plan:
    """Workers for the backlog. While the model reference names nothing, the workers
    still run (they pick the model up as soon as it is pushed) but none is ready, the
    phase is Degraded with reason ModelNotFound, and a Warning event says why once."""
    assert isinstance(view.obj, Feed)
    backlog = inputs.backlog
    if view.deletion_timestamp is not None:
        return plan_deletion(view, units)
    if view.phase == Phase.FAILED or view.status.get("reason") == PREEMPTED:
        return plan_settled(view, units)
    if view.phase == Phase.PENDING:
        return Plan()
    workers = view.obj.spec.workers
    target = read_target(view.status).workers
    current = workers.min if target is None else target
    wanted = next_workers(
        current,
        backlog,
        minimum=workers.min,
        maximum=workers.max,
        target_per_worker=workers.target_backlog_per_worker,
    )
    admitted = workers.min + elastic_admitted(view, FEED.elastic_limit(view))
    count = min(wanted, admitted)
    problem = inputs.model_problem
    # A worker without a model to score with is not ready, whatever its process does.
    health = {} if problem is None else {view.key(i): Health(ready=False) for i in range(count)}
    plan = keep_replicas(
        view,
        units,
        desired=list(range(count)),
        backoff=Backoff(),
        now=now,
        context=context,
        health=health,
        readiness_probed=False,
    )
    if plan.status is None:
        return plan
    plan.status["backlog"] = backlog
    plan.status.pop("desiredWorkers", None)  # where servers before ``target`` kept it
    plan.status["target"] = {**(plan.status.get("target") or {}), "workers": wanted}
    if inputs.model_version is not None:
        plan.status["modelVersion"] = inputs.model_version
    else:
        plan.status.pop("modelVersion", None)
    if wanted > admitted:
        plan.status["message"] = (
            f"{plan.status.get('message', '')}; {wanted} wanted, {admitted} admitted"
        ).lstrip("; ")
    if plan.status.get("phase") == Phase.RUNNING:
        _model_condition(view, plan, problem, now=now)
    return plan


def _model_condition(view: ObjectView, plan: Plan, problem: str | None, *, now: datetime) -> None:
    """Degraded (ModelNotFound) while the model names nothing; an event on each change."""
    assert plan.status is not None
    was_missing = view.status.get("reason") == MODEL_NOT_FOUND
    if problem is None:
        if was_missing:
            model = view.obj.spec.model if isinstance(view.obj, Feed) else "the model"
            version = plan.status.get("modelVersion")
            plan.event(MODEL_FOUND, f"{model} is version {version} now: workers score again")
        return
    ready = plan.status.get("readyReplicas", 0)
    total = len(plan.status.get("replicas") or [])
    message = f"{problem}; records wait unscored ({total} worker(s), {ready} ready)"
    status = dict(plan.status)
    if view.phase == DEGRADED and "phaseSince" in view.status:
        # Planned as Running above: keep the time it has been Degraded since.
        status.update(phase=DEGRADED, phaseSince=view.status["phaseSince"])
    plan.status = with_phase(status, DEGRADED, now=now, reason=MODEL_NOT_FOUND, message=message)
    if not was_missing:
        plan.event(MODEL_NOT_FOUND, problem, warning=True)


class FeedPolicy(DefaultPolicy):
    """Feeds: ``workers.min`` admitted together, and as many elastic workers above it as
    the backlog wants; records come through the feed."""

    kind = "Feed"
    takes_records = True

    def plan(self, view: ObjectView, units: dict[int, UnitState], inputs: PlanInputs) -> Plan:
        return plan_feed(view, units, now=inputs.now, context=inputs.context, inputs=inputs.feed)

    def base_replicas(self, view: ObjectView) -> int:
        assert isinstance(view.obj, Feed)
        return view.obj.spec.workers.min

    def elastic_limit(self, view: ObjectView) -> int:
        """As many workers as the backlog wants (status.target.workers) above workers.min."""
        assert isinstance(view.obj, Feed)
        workers = view.obj.spec.workers
        target = read_target(view.status).workers
        wanted = workers.min if target is None else target
        return max(0, min(workers.max, wanted) - workers.min)


FEED = FeedPolicy()
