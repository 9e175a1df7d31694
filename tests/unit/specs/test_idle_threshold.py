"""spec.idleThreshold of Workspaces and Services: defaults, accepted values, errors."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.specs.objects import Service, SpecError, Workspace, parse_object, spec_dict


def doc(kind: str, **spec: Any) -> dict[str, Any]:
    base = {"model": "llama@prod"} if kind == "Service" else {}
    return {
        "apiVersion": "sapwood/v1",
        "kind": kind,
        "metadata": {"name": "a"},
        "spec": base | spec,
    }


def errors(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_object(document)
    return {e.path: e.message for e in info.value.errors}


@pytest.mark.parametrize("kind", ["Workspace", "Service"])
def test_the_default_is_five_percent_of_a_core_and_of_a_gpu(kind: str) -> None:
    obj = parse_object(doc(kind))
    assert isinstance(obj, Workspace | Service)
    assert (obj.spec.idle_threshold.cpu, obj.spec.idle_threshold.gpu) == (5.0, 5.0)
    assert spec_dict(obj.spec)["idleThreshold"] == {"cpu": 5.0, "gpu": 5.0}


@pytest.mark.parametrize("kind", ["Workspace", "Service"])
def test_a_threshold_is_kept_and_round_trips(kind: str) -> None:
    obj = parse_object(doc(kind, idleThreshold={"cpu": 10}))
    assert isinstance(obj, Workspace | Service)
    assert (obj.spec.idle_threshold.cpu, obj.spec.idle_threshold.gpu) == (10.0, 5.0)
    assert parse_object(spec_dict(obj)) == obj


def test_above_one_core_is_allowed_on_the_summed_scale() -> None:
    # 150 = one and a half cores over all replicas, as sapwood.cpu_percent reads
    obj = parse_object(doc("Workspace", idleThreshold={"cpu": 150, "gpu": 0}))
    assert isinstance(obj, Workspace)
    assert (obj.spec.idle_threshold.cpu, obj.spec.idle_threshold.gpu) == (150.0, 0.0)


@pytest.mark.parametrize(
    ("threshold", "path", "message"),
    [
        (
            {"cpu": -1},
            "spec.idleThreshold.cpu",
            "-1 is out of range: must be between 0 and 409600 "
            "(percent of one core, summed over replicas)",
        ),
        (
            {"gpu": 200_000},
            "spec.idleThreshold.gpu",
            "200000 is out of range: must be between 0 and 102400 "
            "(percent of one GPU, summed over replicas)",
        ),
        ({"cpu": float("nan")}, "spec.idleThreshold.cpu", "nan is out of range"),
        ({"gpu": float("inf")}, "spec.idleThreshold.gpu", "inf is out of range"),
        ({"cpu": True}, "spec.idleThreshold.cpu", "expected a number (percent), got bool"),
        ({"cpu": "low"}, "spec.idleThreshold.cpu", "valid number"),
        ({"memory": 5}, "spec.idleThreshold.memory", "unknown field"),
    ],
)
@pytest.mark.parametrize("kind", ["Workspace", "Service"])
def test_bad_thresholds_name_the_field(
    kind: str, threshold: dict[str, Any], path: str, message: str
) -> None:
    assert message in errors(doc(kind, idleThreshold=threshold))[path]


def test_a_bare_number_is_refused() -> None:
    assert "valid dictionary" in errors(doc("Workspace", idleThreshold=5))["spec.idleThreshold"]


def test_jobs_have_no_idle_threshold() -> None:
    document = {
        "apiVersion": "sapwood/v1",
        "kind": "Job",
        "metadata": {"name": "a"},
        "spec": {"command": ["x"], "idleThreshold": {"cpu": 10}},
    }
    assert errors(document)["spec.idleThreshold"] == "unknown field"
