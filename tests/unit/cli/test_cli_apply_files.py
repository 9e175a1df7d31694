"""Reading and checking files for `sapwood apply`, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.cli.apply import read_documents, validated_bodies
from sapwood.cli.errors import CliError, error_lines
from sapwood.specs.documents import DocumentError

JOB = """\
apiVersion: sapwood/v1
kind: Job
metadata: {{name: {name}}}
spec:
  command: [python, train.py]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_directory_gives_its_yaml_and_json_files_sorted_not_recursive(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", JOB.format(name="b"))
    write(tmp_path / "a.yml", JOB.format(name="a"))
    write(
        tmp_path / "c.json",
        '{"apiVersion": "sapwood/v1", "kind": "Job", '
        '"metadata": {"name": "c"}, "spec": {"command": "true"}}',
    )
    write(tmp_path / "notes.txt", "not a spec")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "d.yaml", JOB.format(name="d"))

    bodies = validated_bodies(read_documents([str(tmp_path)]))

    assert [b["metadata"]["name"] for b in bodies] == ["a", "b", "c"]


def test_documents_of_several_files_keep_their_order(tmp_path: Path) -> None:
    first = write(tmp_path / "z.yaml", JOB.format(name="z") + "---\n" + JOB.format(name="y"))
    second = write(tmp_path / "a.yaml", JOB.format(name="a"))
    bodies = validated_bodies(read_documents([str(first), str(second)]))
    assert [b["metadata"]["name"] for b in bodies] == ["z", "y", "a"]


def test_an_error_in_document_3_names_the_file_the_document_and_the_field(
    tmp_path: Path,
) -> None:
    bad = JOB.format(name="c") + "  resources: {cpu: lots}\n"
    path = write(
        tmp_path / "jobs.yaml", "---\n".join([JOB.format(name="a"), JOB.format(name="b"), bad])
    )
    with pytest.raises(DocumentError) as caught:
        validated_bodies(read_documents([str(path)]))

    [line] = error_lines(caught.value)
    assert line.startswith(f"error: {path}, document 3: spec.resources.cpu: ")
    assert "'lots'" in line


def test_several_bad_fields_are_each_on_their_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "svc.yaml",
        "apiVersion: sapwood/v1\nkind: Service\n"
        "metadata: {name: Web}\nspec: {command: x, colour: blue}\n",
    )
    with pytest.raises(DocumentError) as caught:
        validated_bodies(read_documents([str(path)]))

    lines = error_lines(caught.value)
    assert lines[0] == f"error: {path}, document 1 is invalid:"
    assert any(line.startswith("  metadata.name: ") for line in lines[1:])
    assert "  spec.colour: unknown field" in lines[1:]


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "apiVersion: sapwood/v1\nkind: Job\nmetadata: [\n")
    with pytest.raises(DocumentError) as caught:
        read_documents([str(path)])
    assert "line 4" in str(caught.value)
    assert str(path) in str(caught.value)


def test_an_item_of_a_list_is_named_by_position(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.yaml",
        "items:\n  - apiVersion: sapwood/v1\n    kind: Job\n"
        "    metadata: {name: a}\n    spec: {command: x}\n"
        "  - apiVersion: sapwood/v1\n    kind: Job\n    metadata: {name: b}\n"
        "    spec: {}\n",
    )
    with pytest.raises(DocumentError) as caught:
        validated_bodies(read_documents([str(path)]))
    assert str(caught.value).startswith(f"{path}, document 1, item 2: spec.command")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"nope\.yaml: no such file or directory"):
        read_documents([str(tmp_path / "nope.yaml")])


def test_files_without_objects_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.yaml", "# nothing yet\n---\n")
    with pytest.raises(CliError, match="no objects found"):
        read_documents([str(path)])
    (tmp_path / "specs").mkdir()
    with pytest.raises(CliError, match=r"specs: no \.yaml, \.yml, \.json files"):
        read_documents([str(tmp_path / "specs")])


def test_an_unknown_kind_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "apiVersion: sapwood/v1\nkind: Pod\nmetadata: {name: a}\n")
    with pytest.raises(DocumentError, match="kind: unknown kind 'Pod': expected one of Workspace"):
        validated_bodies(read_documents([str(path)]))
