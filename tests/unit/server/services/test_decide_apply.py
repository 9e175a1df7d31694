"""Apply decisions and request validation, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sapwood.schemas import ApplyAction, Role
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from sapwood.server.services.objects import Desired, decide_apply, validate_documents
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.objects import parse_object, spec_dict

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PRIORITIES = {"low": 10, "high": 100, "normal": 50}
MEMBER = Caller(user="ada", admin=False, roles={"ml": Role.MEMBER})


def job(
    name: str = "train", *, spec: dict[str, Any] | None = None, **metadata: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Job",
        "metadata": {"name": name, **metadata},
        "spec": spec if spec is not None else {"command": ["python", "train.py"]},
    }


def desired(document: dict[str, Any], team: str = "ml") -> Desired:
    obj = parse_object(document)
    return Desired(obj, team, spec_dict(obj.spec))


def row_for(
    item: Desired,
    *,
    resource_version: int = 4,
    generation: int = 2,
    deleting: bool = False,
    **changes: Any,
) -> ObjectRow:
    """The stored row for ``item`` as if applied before, with ``changes`` on top."""
    fields: dict[str, Any] = {
        "id": 1,
        "uid": "7a0c5f2e-0000-4000-8000-000000000001",
        "kind": item.obj.kind,
        "team": item.team,
        "name": item.obj.metadata.name,
        "labels": dict(item.obj.metadata.labels),
        "spec": dict(item.spec),
        "status": {"phase": "Running"},
        "generation": generation,
        "resource_version": resource_version,
        "created_at": NOW,
        "updated_at": NOW,
        "deletion_timestamp": NOW if deleting else None,
    }
    fields.update(changes)
    return ObjectRow(**fields)


# --- decide_apply -----------------------------------------------------------------------


def test_absent_object_is_created() -> None:
    assert decide_apply(None, desired(job())) is ApplyAction.CREATED


def test_same_spec_and_labels_is_unchanged() -> None:
    item = desired(job(labels={"app": "x"}))
    assert decide_apply(row_for(item), item) is ApplyAction.UNCHANGED


def test_equivalent_spelling_is_unchanged() -> None:
    stored = desired(job(spec={"command": ["x"], "resources": {"cpu": "500m"}}))
    again = desired(job(spec={"command": ["x"], "resources": {"cpu": 0.5}}))
    assert decide_apply(row_for(stored), again) is ApplyAction.UNCHANGED


def test_changed_spec_is_configured() -> None:
    before = desired(job(spec={"command": ["x"], "retries": 3}))
    after = desired(job(spec={"command": ["x"], "retries": 5}))
    assert decide_apply(row_for(before), after) is ApplyAction.CONFIGURED


def test_changed_labels_alone_is_configured() -> None:
    before = desired(job(labels={"app": "x"}))
    after = desired(job(labels={"app": "y"}))
    assert decide_apply(row_for(before), after) is ApplyAction.CONFIGURED


def test_matching_resource_version_is_allowed() -> None:
    before = desired(job(spec={"command": ["x"]}))
    after = desired(job(spec={"command": ["y"]}, resourceVersion=4))
    assert decide_apply(row_for(before, resource_version=4), after) is ApplyAction.CONFIGURED


def test_stale_resource_version_conflicts_and_says_how_to_recover() -> None:
    before = desired(job())
    after = desired(job(resourceVersion=3))
    with pytest.raises(ConflictError) as info:
        decide_apply(row_for(before, resource_version=5, generation=4), after)
    assert info.value.message == (
        "job/train changed since you read it: you sent resourceVersion 3, "
        "it is now 5 (generation 4)"
    )
    assert info.value.hint is not None
    assert "sapwood get job train -o yaml" in info.value.hint
    assert info.value.code == "conflict"


def test_stale_resource_version_conflicts_even_when_nothing_changed() -> None:
    item = desired(job(resourceVersion=1))
    with pytest.raises(ConflictError, match="changed since you read it"):
        decide_apply(row_for(item, resource_version=2), item)


def test_resource_version_on_create_conflicts() -> None:
    with pytest.raises(ConflictError) as info:
        decide_apply(None, desired(job(resourceVersion=3), team="ml"))
    assert info.value.message == (
        "job/train does not exist in team ml, but resourceVersion 3 was given"
    )
    assert info.value.hint == "drop metadata.resourceVersion to create it"


@pytest.mark.parametrize("resource_version", [None, 4, 9])
def test_object_being_deleted_conflicts(resource_version: int | None) -> None:
    item = desired(job(resourceVersion=resource_version))
    with pytest.raises(ConflictError) as info:
        decide_apply(row_for(item, resource_version=4, deleting=True), item)
    assert info.value.message == "job/train is being deleted"
    assert info.value.hint == "wait until it is gone, then apply again"


# --- validate_documents -----------------------------------------------------------------


def test_valid_documents_resolve_team_and_canonical_spec() -> None:
    documents = [
        job("a", spec={"command": ["x"], "resources": {"cpu": 0.5}}),
        job("b", team="ml", spec={"command": ["x"], "priority": "high"}),
    ]
    out = validate_documents(MEMBER, documents, priorities=PRIORITIES)
    assert [(d.ref, d.team) for d in out] == [("job/a", "ml"), ("job/b", "ml")]
    assert out[0].spec["resources"]["cpu"] == "500m"
    assert out[0].spec == spec_dict(out[0].obj.spec)


def test_unknown_priority_lists_allowed_values_highest_first() -> None:
    documents = [job("a"), job("b", spec={"command": ["x"], "priority": "urgent"})]
    with pytest.raises(InvalidError) as info:
        validate_documents(MEMBER, documents, priorities=PRIORITIES)
    assert info.value.message == "object 2 of 2 is invalid"
    (detail,) = info.value.details
    assert detail.path == "objects[1].spec.priority"
    assert detail.message == "unknown priority 'urgent': expected one of high, normal, low"


def test_default_priority_must_be_configured_too() -> None:
    with pytest.raises(InvalidError) as info:
        validate_documents(MEMBER, [job()], priorities={"high": 100})
    assert info.value.details[0].message == "unknown priority 'normal': expected one of high"


def test_same_object_twice_in_one_request() -> None:
    documents = [job("a"), job("a", team="ml", spec={"command": ["y"]})]
    with pytest.raises(InvalidError) as info:
        validate_documents(MEMBER, documents, priorities=PRIORITIES)
    assert info.value.message == "job/a appears twice in team ml: apply each object once"


def test_same_name_in_other_kind_or_team_is_not_a_duplicate() -> None:
    caller = Caller(user="ada", admin=False, roles={"ml": Role.MEMBER, "web": Role.MEMBER})
    service = {
        "apiVersion": "sapwood/v1",
        "kind": "Service",
        "metadata": {"name": "a", "team": "ml"},
        "spec": {"model": "llm@prod"},
    }
    documents = [job("a", team="ml"), job("a", team="web"), service]
    out = validate_documents(caller, documents, priorities=PRIORITIES)
    assert [(d.obj.kind, d.team) for d in out] == [("Job", "ml"), ("Job", "web"), ("Service", "ml")]


def test_viewer_is_forbidden() -> None:
    viewer = Caller(user="vic", admin=False, roles={"ml": Role.VIEWER})
    with pytest.raises(ForbiddenError, match="you are a viewer of team ml and cannot change job/a"):
        validate_documents(viewer, [job("a")], priorities=PRIORITIES)


def test_outsider_gets_not_found_for_another_team() -> None:
    with pytest.raises(NotFoundError, match="job/a not found in team web"):
        validate_documents(MEMBER, [job("a", team="web")], priorities=PRIORITIES)


def test_caller_in_several_teams_must_name_one() -> None:
    caller = Caller(user="ada", admin=False, roles={"ml": Role.MEMBER, "web": Role.MEMBER})
    with pytest.raises(InvalidError, match=r"several teams \(ml, web\)"):
        validate_documents(caller, [job("a")], priorities=PRIORITIES)


def test_spec_errors_are_prefixed_with_the_object_index() -> None:
    documents = [
        job("a"),
        job("b"),
        job("c", spec={"command": ["x"], "bogus": 1, "resources": {"cpu": -1}}),
    ]
    with pytest.raises(InvalidError) as info:
        validate_documents(MEMBER, documents, priorities=PRIORITIES)
    assert info.value.message == "object 3 of 3 is invalid"
    paths = {d.path: d.message for d in info.value.details}
    assert paths["objects[2].spec.bogus"] == "unknown field"
    assert paths["objects[2].spec.resources.cpu"].startswith("cpu -1 is out of range")


def test_document_level_error_has_the_bare_index_as_path() -> None:
    with pytest.raises(InvalidError) as info:
        validate_documents(MEMBER, [job("a"), ["not", "a", "mapping"]], priorities=PRIORITIES)  # type: ignore[list-item]
    (detail,) = info.value.details
    assert detail.path == "objects[1]"
    assert detail.message == "expected a mapping, got list"


def test_nothing_is_returned_when_a_later_document_fails() -> None:
    # all-or-nothing: the first valid document is not handed back on its own
    with pytest.raises(InvalidError):
        validate_documents(MEMBER, [job("a"), job("Bad")], priorities=PRIORITIES)
