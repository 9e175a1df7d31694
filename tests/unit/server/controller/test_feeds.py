"""A Feed whose model reference names nothing: Degraded, ModelNotFound, no worker ready."""

from __future__ import annotations

from sapwood.server.controller.plan.feed import ModelIndex, model_problem, plan_feed
from sapwood.server.controller.plan.policy import FeedInputs
from tests.unit.server.controller.views import CONTEXT, T0, after, running, view

SPEC = {"schema": "antinex-v1", "model": "antinex@production", "workers": {"min": 1, "max": 1}}
MISSING = "antinex@production does not exist in team research: there is no model antinex"


def test_a_reference_to_nothing_says_what_is_missing() -> None:
    assert model_problem("antinex@production", "research", None, version=None) == (
        f"{MISSING} (push one: sapwood models push)"
    )
    model = ModelIndex(frozenset({1, 2}), {"staging": 2})
    assert model_problem("antinex@production", "research", model, version=None) == (
        "antinex@production does not exist in team research: model antinex has no alias "
        "production (versions 1, 2; aliases staging)"
    )
    assert "has no version 7" in str(model_problem("antinex@7", "research", model, version=None))
    assert model_problem("antinex@staging", "research", model, version=2) is None


def test_workers_of_a_feed_without_its_model_run_but_are_not_ready() -> None:
    current = view("Feed", "traffic", status={"phase": "Admitted"}, **SPEC)
    problem = model_problem("antinex@production", "research", None, version=None)
    inputs = FeedInputs(backlog=5, model_problem=problem)
    first = plan_feed(current, {}, now=T0, context=CONTEXT, inputs=inputs)
    assert [s.key.replica for s in first.starts] == [0]  # it picks the model up once pushed
    current = after(current, first)
    units = {0: running(current.key(0))}
    plan = plan_feed(current, units, now=T0, context=CONTEXT, inputs=inputs)
    assert plan.status is not None
    assert plan.status["phase"] == "Degraded"
    assert plan.status["reason"] == "ModelNotFound"
    assert plan.status["message"].startswith(MISSING)
    assert "records wait unscored (1 worker(s), 0 ready)" in plan.status["message"]
    assert plan.status["readyReplicas"] == 0
    assert [r["ready"] for r in plan.status["replicas"]] == [False]
    warnings = [e for e in first.events + plan.events if e.reason == "ModelNotFound"]
    assert len(warnings) == 1  # on the change, not on every pass
    assert warnings[0].warning
    assert warnings[0].message.startswith(MISSING)

    # Once the model exists, the workers are ready and the feed is Running again.
    found = FeedInputs(backlog=5, model_version=3)
    again = plan_feed(after(current, plan), units, now=T0, context=CONTEXT, inputs=found)
    assert again.status is not None
    assert (again.status["phase"], again.status["readyReplicas"]) == ("Running", 1)
    assert "reason" not in again.status
    assert again.status["modelVersion"] == 3
    assert [e.reason for e in again.events] == ["ModelFound"]
    assert again.events[0].message == "antinex@production is version 3 now: workers score again"
