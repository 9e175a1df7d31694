"""The registry's pure checks: metrics options, who may push, what lineage is recorded,
which Services an alias move rolls."""

from __future__ import annotations

import pytest

from sapwood.schemas import Role
from sapwood.server.auth.scope import WorkloadScope
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import ForbiddenError, InvalidError, NotFoundError
from sapwood.server.services.model_rules import (
    PushOptions,
    alias_move,
    check_options,
    lineage_for,
    parse_metrics,
    require_push,
)

MEMBER = Caller("mia", admin=False, roles={"ml": Role.MEMBER})
VIEWER = Caller("vic", admin=False, roles={"ml": Role.VIEWER})
JOB = Caller(
    "sapwood-workloads",
    admin=False,
    roles={"ml": Role.VIEWER},
    scope=WorkloadScope.parse("Job/ml/train"),
)
SERVICE = Caller(
    "sapwood-workloads",
    admin=False,
    roles={"ml": Role.VIEWER},
    scope=WorkloadScope.parse("Service/ml/web"),
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


SERVICES: dict[str, dict[str, object]] = {
    "web": {"model": "antinex@production", "replicas": 3},
    "pinned": {"model": "antinex@2"},
    "staged": {"model": "antinex@staging"},
    "other": {"model": "flows@production"},
    "trial": {"model": "flows@1", "canary": {"model": "antinex@production", "weight": 10}},
    "plain": {"command": ["python", "app.py"]},
}


def test_an_alias_move_rolls_the_services_that_name_it_in_model_or_canary() -> None:
    move = alias_move("antinex", "production", SERVICES, version=3, previous=2)
    assert move is not None
    assert move.services == ["trial", "web"]
    assert move.message(5) == (
        "antinex@production now points at version 3 (was 2): rolling out generation 5"
    )


def test_setting_an_alias_to_the_version_it_has_rolls_nothing() -> None:
    assert alias_move("antinex", "production", SERVICES, version=2, previous=2) is None


def test_a_new_alias_rolls_the_services_that_already_named_it() -> None:
    move = alias_move("antinex", "staging", SERVICES, version=1, previous=None)
    assert move is not None
    assert move.services == ["staged"]
    assert "(a new alias)" in move.message(2)


def test_an_alias_no_service_names_rolls_none() -> None:
    move = alias_move("antinex", "canary", SERVICES, version=4, previous=3)
    assert move is not None
    assert move.services == []
