"""Services: keep N replicas up (plus an elastic share, a rollout's surge and canaries),
restart each alone with backoff, and publish the ready ones' endpoints for the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sapwood.server.controller.plan.autoscaler import ScaleState
from sapwood.server.controller.plan.health import Health
from sapwood.server.controller.plan.idle import IdleDecision
from sapwood.server.controller.plan.pausing import IDLE_PAUSED, plan_held
from sapwood.server.controller.plan.policy import (
    DefaultPolicy,
    PlanInputs,
    Probes,
    elastic_admitted,
)
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
    main = spec.replicas.min + elastic_admitted(view, SERVICE.elastic_limit(view))
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


class ServicePolicy(DefaultPolicy):
    """Services: ``replicas.min`` (and canaries) admitted together, elastic replicas above
    it up to ``replicas.max``; rollouts surge; probed; scaled on the gateway's load."""

    kind = "Service"
    surges = True

    def plan(self, view: ObjectView, units: dict[int, UnitState], inputs: PlanInputs) -> Plan:
        return plan_service(
            view,
            units,
            now=inputs.now,
            context=inputs.context,
            health=inputs.health,
            idle=inputs.idle,
        )

    def base_replicas(self, view: ObjectView) -> int:
        assert isinstance(view.obj, Service)
        spec = view.obj.spec
        canary = spec.canary.replicas if spec.canary is not None and spec.replicas.min else 0
        return spec.replicas.min + canary

    def elastic_limit(self, view: ObjectView) -> int:
        """Above min, up to max, and for an autoscaled service no more than its
        autoscaler wants."""
        assert isinstance(view.obj, Service)
        spec = view.obj.spec
        limit = spec.replicas.max - spec.replicas.min
        if spec.autoscale is not None:
            wanted = ScaleState.from_dict(view.status.get("autoscaler"), spec.replicas.min).desired
            limit = min(limit, max(0, wanted - spec.replicas.min))
        return limit

    def wants_load(self, view: ObjectView) -> bool:
        """To scale it, to tell whether it is idle, or to wake it for a request the gateway
        holds."""
        assert isinstance(view.obj, Service)
        spec = view.obj.spec
        return (
            spec.autoscale is not None
            or spec.idle_timeout is not None
            or view.status.get("reason") == IDLE_PAUSED
        )

    def probes(self, view: ObjectView) -> Probes:
        assert isinstance(view.obj, Service)
        spec = view.obj.spec
        return Probes(readiness=spec.readiness_probe(), liveness=spec.liveness)


SERVICE = ServicePolicy()
