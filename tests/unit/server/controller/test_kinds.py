"""One policy per kind: every kind a user can declare is planned, admitted and ended by
its own policy, through the same calls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sapwood.server.controller.plan.kinds import KIND_POLICIES, plan_object, policy_for, run_ended
from sapwood.server.controller.plan.policy import PlanInputs
from sapwood.server.controller.plan.scheduler import Role
from sapwood.specs.objects import KINDS
from tests.unit.server.controller.views import CONTEXT, T0, view

SPECS = {
    "Job": {"command": ["train"], "replicas": 2},
    "Service": {"command": ["serve"], "replicas": {"min": 1, "max": 3}},
    "Workspace": {"tool": "command", "command": ["lab"]},
    "Feed": {"schema": "antinex-v1", "model": "antinex@production", "workers": {"min": 1}},
}


def test_every_kind_a_user_can_declare_has_a_policy() -> None:
    assert set(KIND_POLICIES) == set(KINDS)
    assert all(policy_for(kind).kind == kind for kind in KINDS)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_an_admitted_object_of_any_kind_starts_its_base_replicas(kind: str) -> None:
    obj = view(kind, "one", status={"phase": "Admitted"}, **SPECS[kind])
    plan = plan_object(obj, {}, PlanInputs(now=T0, context=CONTEXT))
    assert len(plan.starts) == policy_for(kind).base_replicas(obj)
    assert plan.status is not None
    assert plan.status["phase"] == "Running"


def test_only_a_finished_job_ends_its_run() -> None:
    for phase in ("Succeeded", "Failed"):
        assert run_ended("Job", {"phase": phase})
        assert not run_ended("Service", {"phase": phase})
    assert not run_ended("Job", {"phase": "Running"})


def test_a_service_may_grow_elastically_and_is_probed_a_job_not() -> None:
    service = view(
        "Service",
        "web",
        command=["serve"],
        replicas={"min": 1, "max": 3},
        readiness={"http": {"path": "/ready"}},
    )
    job = view("Job", command=["train"])
    assert policy_for("Service").elastic_limit(service) == 2
    assert policy_for("Job").elastic_limit(job) == 0
    assert policy_for("Service").probes(service).readiness is not None
    assert not policy_for("Job").probes(job).any


def test_a_workspace_is_protected_from_preemption_unless_its_spec_allows_it() -> None:
    kept = view("Workspace", "nb", tool="command", command=["lab"])
    preemptible = view("Workspace", "nb", tool="command", command=["lab"], preemptible=True)
    assert policy_for("Workspace").role(kept) is Role.PROTECTED
    assert policy_for("Workspace").role(preemptible) is Role.REGULAR


def test_only_a_service_asks_for_the_gateways_load() -> None:
    idle_service = view("Service", "web", command=["serve"], idleTimeout="10m")
    assert idle_service.obj.spec.idle_timeout == timedelta(minutes=10)
    assert policy_for("Service").wants_load(idle_service)
    assert not policy_for("Workspace").wants_load(
        view("Workspace", "nb", tool="command", command=["lab"])
    )
