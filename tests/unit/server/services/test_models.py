"""The registry's pure checks: metrics options, who may push, what lineage is recorded."""

from __future__ import annotations

import pytest

from sapwood.schemas import Role
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import ForbiddenError, InvalidError, NotFoundError
from sapwood.server.services.model_rules import (
    PushOptions,
    check_options,
    lineage_for,
    parse_metrics,
    require_push,
)

MEMBER = Caller("mia", admin=False, roles={"ml": Role.MEMBER})
VIEWER = Caller("vic", admin=False, roles={"ml": Role.VIEWER})
JOB = Caller("sapwood-workloads", admin=False, roles={"ml": Role.VIEWER}, scope="Job/ml/train")
SERVICE = Caller(
    "sapwood-workloads", admin=False, roles={"ml": Role.VIEWER}, scope="Service/ml/web"
)


def test_metrics_parse_name_equals_number() -> None:
    assert parse_metrics(["accuracy=0.97", "loss = 1e-3", "n=3"]) == {
        "accuracy": 0.97,
        "loss": 1e-3,
        "n": 3.0,
    }


@pytest.mark.parametrize("item", ["accuracy", "=0.5", "accuracy=high", "loss=nan", "x=inf"])
def test_a_bad_metric_is_named(item: str) -> None:
    with pytest.raises(InvalidError) as refused:
        parse_metrics(["ok=1", item])
    assert refused.value.details[0].path == "metric"


def test_members_and_their_teams_jobs_push() -> None:
    require_push(MEMBER, "ml", "clf")
    require_push(JOB, "ml", "clf")


def test_viewers_and_services_do_not_push_and_outsiders_learn_nothing() -> None:
    with pytest.raises(ForbiddenError):
        require_push(VIEWER, "ml", "clf")
    with pytest.raises(ForbiddenError, match="Service/ml/web"):
        require_push(SERVICE, "ml", "clf")
    with pytest.raises(NotFoundError):
        require_push(JOB, "web", "clf")
    with pytest.raises(NotFoundError):
        require_push(MEMBER, "web", "clf")


def test_lineage_names_the_workload_or_the_person() -> None:
    job = lineage_for(JOB, uid="u-1", source="flows")
    assert (job.kind, job.team, job.name, job.uid, job.source) == (
        "Job",
        "ml",
        "train",
        "u-1",
        "flows",
    )
    person = lineage_for(MEMBER, uid=None, source=None)
    assert (person.user, person.kind) == ("mia", None)


def test_options_are_checked_before_the_upload() -> None:
    check_options(PushOptions(alias="production", framework="sklearn", source="x"))
    with pytest.raises(InvalidError, match="all digits"):
        check_options(PushOptions(alias="42"))
    with pytest.raises(InvalidError, match="framework"):
        check_options(PushOptions(framework=""))
    with pytest.raises(InvalidError, match="source"):
        check_options(PushOptions(source="x" * 1001))
