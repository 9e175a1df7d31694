"""Metric points: what is accepted, how a refusal names the point; who may write them."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.schemas import Role
from sapwood.server.auth.scope import WorkloadScope
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import ForbiddenError, InvalidError, NotFoundError
from sapwood.server.services.metrics import require_metrics_write, validate_points
from sapwood.server.store.tables import ObjectRow


def refusal(items: list[Any]) -> InvalidError:
    with pytest.raises(InvalidError) as caught:
        validate_points(items)
    return caught.value


def test_valid_points_are_parsed() -> None:
    points = validate_points(
        [
            {"name": "loss", "value": 0.5, "step": 3},
            {"name": "train/acc", "value": 1},
            {"name": "lr", "value": 1e-4, "time": "2025-06-01T12:00:00Z"},
        ]
    )
    assert [(p.name, p.value, p.step) for p in points] == [
        ("loss", 0.5, 3),
        ("train/acc", 1.0, None),
        ("lr", 1e-4, None),
    ]
    assert points[2].time is not None
    assert points[2].time.year == 2025


@pytest.mark.parametrize(
    ("point", "field", "words"),
    [
        ({"name": "loss", "value": float("nan")}, "value", "finite"),
        ({"name": "loss", "value": float("inf")}, "value", "finite"),
        ({"name": "loss", "value": "0.5"}, "value", "number"),
        ({"name": "loss", "value": True}, "value", "number"),
        ({"name": "loss"}, "value", "required"),
        ({"name": "loss", "value": 1, "step": -1}, "step", "greater than or equal to 0"),
        ({"name": "loss", "value": 1, "step": 1.5}, "step", "integer"),
        ({"name": "", "value": 1}, "name", "empty"),
        ({"name": "7up", "value": 1}, "name", "start with a letter"),
        ({"name": "has space", "value": 1}, "name", "not a metric name"),
        ({"name": "x" * 101, "value": 1}, "name", "at most 100"),
        ({"value": 1}, "name", "required"),
    ],
)
def test_an_invalid_point_is_named_by_index_and_field(
    point: dict[str, Any], field: str, words: str
) -> None:
    good = {"name": "ok", "value": 1.0}
    error = refusal([good, good, point])
    assert error.message == "point 3 of 3 is invalid"
    [detail] = [d for d in error.details if d.path == f"points[2].{field}"]
    assert words in detail.message


def test_more_than_a_thousand_points_are_refused_whole() -> None:
    error = refusal([{"name": "loss", "value": 1.0}] * 1001)
    assert "1001 points" in error.message
    assert "at most 1000" in error.message
    assert error.hint is not None


def test_a_thousand_points_and_none_are_fine() -> None:
    assert len(validate_points([{"name": "loss", "value": 1.0}] * 1000)) == 1000
    assert validate_points([]) == []


JOB = ObjectRow(kind="Job", team="ml", name="train")


def test_a_workload_token_writes_its_own_object() -> None:
    own = Caller(
        "sapwood-workloads",
        admin=False,
        roles={"ml": Role.VIEWER},
        scope=WorkloadScope.parse("Job/ml/train"),
    )
    require_metrics_write(own, JOB)


@pytest.mark.parametrize("scope", ["Job/ml/other", "Service/ml/train", "Job/web/train"])
def test_a_workload_token_cannot_write_another_objects_metrics(scope: str) -> None:
    other = Caller(
        "sapwood-workloads",
        admin=False,
        roles={"ml": Role.VIEWER},
        scope=WorkloadScope.parse(scope),
    )
    with pytest.raises(ForbiddenError, match=scope):
        require_metrics_write(other, JOB)


def test_members_and_admins_write_viewers_and_outsiders_do_not() -> None:
    require_metrics_write(Caller("ada", admin=False, roles={"ml": Role.MEMBER}), JOB)
    require_metrics_write(Caller("root", admin=True), JOB)
    with pytest.raises(ForbiddenError):
        require_metrics_write(Caller("vic", admin=False, roles={"ml": Role.VIEWER}), JOB)
    with pytest.raises(NotFoundError):
        require_metrics_write(Caller("out", admin=False, roles={"web": Role.MEMBER}), JOB)
