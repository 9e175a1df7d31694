"""Specs under abuse: caps on list lengths, whole-string matches, NUL bytes, workdirs, deadlines."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from sapwood.schemas.models import alias_problem
from sapwood.specs.base import check_label_key, check_label_value, check_name
from sapwood.specs.objects import SpecError, parse_object
from sapwood.specs.serving import Canary


def doc(kind: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sapwood/v1",
        "kind": kind,
        "metadata": {"name": "x", **metadata},
        "spec": spec,
    }


def errors_of(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_object(document)
    return {e.path: e.message for e in info.value.errors}


def feed(columns: object, **spec: Any) -> dict[str, Any]:
    return doc("Feed", {"schema": columns, "model": "clf@prod", **spec})


def test_a_feed_of_100000_columns_is_refused_by_its_cap() -> None:
    columns = [{"name": f"c{i}"} for i in range(100_000)]
    assert errors_of(feed(columns)) == {
        "spec.schema": "at most 10000 schema columns are allowed, got 100000"
    }


def test_ten_thousand_columns_pass_and_repeats_among_them_are_named() -> None:
    columns = [{"name": f"c{i}"} for i in range(10_000)]
    assert len(parse_object(feed(columns)).spec.schema_columns()) == 10_000
    repeated = [*columns[:-2], {"name": "c1"}, {"name": "c2"}]
    assert "repeated: c1, c2" in errors_of(feed(repeated))["spec"]


@pytest.mark.parametrize(
    ("spec", "metadata", "path", "message"),
    [
        ({}, {"labels": {f"k{i}": "v" for i in range(65)}}, "metadata.labels", "64 labels"),
        ({"nodeSelector": {f"k{i}": "v" for i in range(65)}}, {}, "spec.nodeSelector", "64"),
        ({"env": {f"V{i}": "1" for i in range(257)}}, {}, "spec.env", "256 environment"),
        ({"command": ["x"] * 1025}, {}, "spec.command", "1024 arguments"),
        (
            {"volumes": [{"name": f"v{i}", "mountPath": f"/v{i}"} for i in range(33)]},
            {},
            "spec.volumes",
            "32 volumes",
        ),
    ],
)
def test_lists_past_their_cap_are_refused_naming_field_cap_and_count(
    spec: dict[str, Any], metadata: dict[str, Any], path: str, message: str
) -> None:
    errors = errors_of(doc("Job", {"command": ["x"], **spec}, **metadata))
    assert message in errors[path]
    assert "got " in errors[path]


def test_at_the_caps_a_job_is_valid() -> None:
    spec = {
        "command": ["x"] * 1024,
        "env": {f"V{i}": "1" for i in range(256)},
        "volumes": [{"name": f"v{i}", "mountPath": f"/v{i}"} for i in range(32)],
    }
    parse_object(doc("Job", spec, labels={f"k{i}": "v" for i in range(64)}))


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (doc("Job", {"command": ["x"]}, name="train\n"), "metadata.name"),
        (doc("Job", {"command": ["x"]}, team="ml\n"), "metadata.team"),
        (doc("Job", {"command": ["x"]}, labels={"app\n": "x"}), "metadata.labels"),
        (doc("Job", {"command": ["x"]}, labels={"app": "x\n"}), "metadata.labels"),
        (doc("Job", {"command": ["x"]}, labels={"a.b\n/app": "x"}), "metadata.labels"),
        (doc("Job", {"command": ["x"], "env": {"HOME\n": "x"}}), "spec.env"),
        (doc("Job", {"command": ["x"], "priority": "high\n"}), "spec.priority"),
        (feed([{"name": "a\n"}]), "spec.schema[0]"),
        (feed([{"name": "a"}], model="clf@prod\n"), "spec.model"),
        (doc("Service", {"model": "clf\n@prod"}), "spec.model"),
    ],
)
def test_a_trailing_newline_is_refused(document: dict[str, Any], path: str) -> None:
    assert path in errors_of(document)


def test_the_checks_match_whole_strings() -> None:
    for check in (check_name, check_label_key, check_label_value):
        with pytest.raises(ValueError, match="valid"):
            check("app\n")
    assert alias_problem("prod\n") is not None
    assert alias_problem("prod") is None


def test_pydantic_patterns_refuse_a_trailing_newline() -> None:
    # pydantic matches `pattern=` with Rust's regex, where '$' is the end of the text
    # only; this guards that assumption for the model references.
    class Ref(BaseModel):
        canary: Canary

    with pytest.raises(ValidationError):
        Ref.model_validate({"canary": {"model": "clf@v2\n", "weight": 5}})


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"command": ["python", "-c\x00", "x"]}, "spec.command[1]"),
        ({"command": "echo hi\x00there"}, "spec.command[2]"),
        ({"command": ["x"], "env": {"TOKEN": "a\x00b"}}, "spec.env.TOKEN"),
        ({"command": ["x"], "env": {"TO\x00KEN": "ab"}}, "spec.env"),
        ({"command": ["x"], "workdir": "/tmp/a\x00b"}, "spec.workdir"),
    ],
)
def test_nul_bytes_are_refused_with_the_field_path(spec: dict[str, Any], path: str) -> None:
    errors = errors_of(doc("Job", spec))
    assert path in errors
    if path != "spec.env":
        assert "NUL" in errors[path]


def test_a_probe_command_with_a_nul_byte_is_refused() -> None:
    spec = {"command": ["serve"], "readiness": {"exec": {"command": ["check\x00"]}}}
    assert "NUL" in errors_of(doc("Service", spec))["spec.readiness.exec.command[0]"]


def test_an_argument_longer_than_linux_takes_is_refused() -> None:
    errors = errors_of(doc("Job", {"command": ["echo", "x" * (128 * 1024 + 1)]}))
    assert "longer than 131072 bytes" in errors["spec.command[1]"]


@pytest.mark.parametrize("workdir", ["work", "./work", "~/work", ""])
def test_a_workdir_must_be_absolute(workdir: str) -> None:
    errors = errors_of(doc("Workspace", {"workdir": workdir}))
    assert "absolute path" in errors["spec.workdir"]


def test_an_absolute_workdir_is_kept() -> None:
    obj = parse_object(doc("Service", {"command": ["serve"], "workdir": "/srv/app"}))
    assert obj.spec.workdir == "/srv/app"


@pytest.mark.parametrize("deadline", ["0s", 0, "0ms"])
def test_an_active_deadline_of_zero_is_refused(deadline: object) -> None:
    errors = errors_of(doc("Job", {"command": ["x"], "activeDeadline": deadline}))
    assert "above 0s" in errors["spec.activeDeadline"]


def test_a_negative_active_deadline_is_refused() -> None:
    assert "spec.activeDeadline" in errors_of(doc("Job", {"command": ["x"], "activeDeadline": -5}))
