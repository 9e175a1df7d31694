"""Services: keep N replicas up (plus an elastic share, a rollout's surge and canaries),
restart each alone with backoff, and publish the ready ones' endpoints for the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sapwood.server.controller.plan.admission import elastic_admitted
from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.idle import IdleDecision
from sapwood.server.controller.plan.pausing import plan_held
from sapwood.server.controller.plan.rollout import SURGE, wants_surge
from sapwood.server.controller.plan.supervise import Serving, keep_replicas
from sapwood.server.controller.plan.units import CANARY_FIRST, UnitContext
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.units import UnitKey, UnitState
from sapwood.specs.objects import Service


def plan_service(
    view: ObjectView,
    units: dict[int, UnitState],
    *,
    now: datetime,
    context: UnitContext,
    health: Mapping[UnitKey, Health],
    idle: IdleDecision | None = None,
) -> Plan:
    """One pass for one Service: what to start or stop, and its next status."""
    assert isinstance(view.obj, Service)
    held = plan_held(view, units, now=now, paused=view.obj.spec.paused, idle=idle)
    if held is not None:
        return held
    spec = view.obj.spec
    main = spec.replicas.min + elastic_admitted(view)
    indices = list(range(main))
    if wants_surge(view, units, indices):
        indices.append(SURGE)
    if spec.canary is not None and main > 0 and (spec.canary.weight > 0 or spec.canary.shadow):
        indices += [CANARY_FIRST + i for i in range(spec.canary.replicas)]
    return keep_replicas(
        view,
        units,
        desired=indices,
        backoff=spec.backoff,
        now=now,
        context=context,
        health=health,
        readiness_probed=spec.readiness_probe() is not None,
        publish=publish_endpoints,
    )


def publish_endpoints(status: dict[str, Any], serving: Serving) -> None:
    """The gateway routes to ``endpoints`` (and ``canaryEndpoints``); the rollout's state
    and the replicas wanted are the status's target."""
    status.pop("desiredReplicas", None)  # where servers before ``target`` kept it
    status["target"] = {**(status.get("target") or {}), "replicas": serving.desired}
    if serving.rollout is not None:
        status["rollout"] = serving.rollout
    else:
        status.pop("rollout", None)
    status["endpoints"] = serving.main
    if serving.canary:
        status["canaryEndpoints"] = serving.canary
    else:
        status.pop("canaryEndpoints", None)
