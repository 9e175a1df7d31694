"""The registry of kind policies, and the calls the manager makes through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sapwood.server.controller.plan.feed import FEED
from sapwood.server.controller.plan.job import JOB
from sapwood.server.controller.plan.policy import KindPolicy, PlanInputs
from sapwood.server.controller.plan.service import SERVICE
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.controller.plan.workspace import WORKSPACE
from sapwood.server.units import UnitState

KIND_POLICIES: Mapping[str, KindPolicy] = {p.kind: p for p in (JOB, SERVICE, WORKSPACE, FEED)}


def policy_for(kind: str) -> KindPolicy:
    """The policy of ``kind``; raises KeyError for a kind Sapwood does not have (the specs
    admit none)."""
    return KIND_POLICIES[kind]


def plan_object(view: ObjectView, units: dict[int, UnitState], inputs: PlanInputs) -> Plan:
    """One pass for one object of any kind: what to start or stop, and its next status."""
    return policy_for(view.kind).plan(view, units, inputs)


def run_ended(kind: str, status: Mapping[str, Any]) -> bool:
    """Whether ``status`` ends the object's run, and with it its workload token: a Job that
    Succeeded or Failed. Other kinds run until they are deleted."""
    return policy_for(kind).run_ended(status)
