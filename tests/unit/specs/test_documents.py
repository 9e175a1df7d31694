"""Reading multi-document YAML files: numbering, empty documents, and errors that say where."""

from __future__ import annotations

import pytest

from sapwood.specs.documents import DocumentError, load_documents, parse_documents
from sapwood.specs.objects import Job, Service, SpecError, Workspace

JOB = "apiVersion: sapwood/v1\nkind: Job\nmetadata: {name: train}\nspec: {command: [python]}\n"
SERVICE = "apiVersion: sapwood/v1\nkind: Service\nmetadata: {name: api}\nspec: {model: llm@prod}\n"
WORKSPACE = "apiVersion: sapwood/v1\nkind: Workspace\nmetadata: {name: lab}\nspec: {}\n"


def test_documents_are_numbered_from_one_and_keep_their_source() -> None:
    docs = load_documents(f"{JOB}---\n{SERVICE}---\n{WORKSPACE}", source="app.yaml")
    assert [d.index for d in docs] == [1, 2, 3]
    assert {d.source for d in docs} == {"app.yaml"}
    assert docs[0].body == {
        "apiVersion": "sapwood/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"command": ["python"]},
    }


def test_empty_documents_are_skipped_but_positions_are_kept() -> None:
    text = f"---\n# only a comment\n---\n{JOB}---\n---\n{SERVICE}---\n"
    docs = load_documents(text)
    assert [d.index for d in docs] == [2, 4]
    assert [d.body["kind"] for d in docs] == ["Job", "Service"]  # type: ignore[index]
    assert {d.source for d in docs} == {"<stdin>"}


@pytest.mark.parametrize("text", ["", "\n", "# nothing\n", "---\n---\n"])
def test_nothing_but_empty_documents_gives_no_documents(text: str) -> None:
    assert load_documents(text) == []


def test_json_is_yaml() -> None:
    (doc,) = load_documents('{"apiVersion": "sapwood/v1", "kind": "Job"}', source="j.json")
    assert doc.index == 1
    assert doc.body == {"apiVersion": "sapwood/v1", "kind": "Job"}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", "line 3, column 2"),
        ("a: 1\n\tb: 2\n", "line 2, column 1"),
        (f"{JOB}---\nkind: [Job\n", "line 7"),
    ],
)
def test_syntax_error_reports_the_line(text: str, where: str) -> None:
    with pytest.raises(DocumentError) as info:
        load_documents(text, source="bad.yaml")
    error = info.value
    assert error.source == "bad.yaml"
    assert error.index is None
    assert str(error).startswith("bad.yaml: invalid YAML at ")
    assert where in str(error)
    (field,) = error.errors
    assert field.path == ""
    assert field.message.startswith(f"invalid YAML at {where}")


def test_parse_documents_returns_each_kind_in_order() -> None:
    objects = parse_documents(load_documents(f"{JOB}---\n{SERVICE}---\n{WORKSPACE}"))
    assert [type(o) for o in objects] == [Job, Service, Workspace]
    assert [o.metadata.name for o in objects] == ["train", "api", "lab"]


def test_parse_documents_names_the_invalid_document() -> None:
    bad = "apiVersion: sapwood/v1\nkind: Job\nmetadata: {name: Bad_Name}\nspec: {command: [x]}\n"
    docs = load_documents(f"{JOB}---\n{SERVICE}---\n{bad}", source="jobs.yaml")
    with pytest.raises(DocumentError) as info:
        parse_documents(docs)
    error = info.value
    assert isinstance(error, SpecError)
    assert error.index == 3
    assert error.source == "jobs.yaml"
    assert str(error).startswith("jobs.yaml, document 3: metadata.name: 'Bad_Name' is not a valid")
    assert [e.path for e in error.errors] == ["metadata.name"]


def test_document_number_counts_skipped_empty_documents() -> None:
    bad = "apiVersion: sapwood/v1\nkind: Pod\n"
    docs = load_documents(f"---\n---\n{JOB}---\n{bad}", source="f.yaml")
    with pytest.raises(DocumentError, match=r"^f.yaml, document 3: kind: unknown kind 'Pod'"):
        parse_documents(docs)


def test_a_document_that_is_not_a_mapping_is_named() -> None:
    docs = load_documents(f"{JOB}---\n- just\n- a list\n", source="f.yaml")
    with pytest.raises(DocumentError, match=r"^f.yaml, document 2: expected a mapping, got list$"):
        parse_documents(docs)
