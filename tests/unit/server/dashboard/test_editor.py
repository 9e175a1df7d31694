"""The deploy editor puts each error on the line a user has to change."""

from __future__ import annotations

from sapwood.server.dashboard.editor import LineError, check, place

JOB = """\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: train
spec:
  command: ["python", "-c", "print(1)"]
"""


def test_a_valid_document_passes_with_no_errors() -> None:
    checked = check(JOB)
    assert checked.errors == []
    assert checked.documents[0]["metadata"]["name"] == "train"


def test_an_unknown_field_is_placed_on_its_own_line() -> None:
    text = JOB + "  comand: [ls]\n"
    assert check(text).errors == [LineError(7, "spec.comand", "unknown field")]


def test_a_bad_value_in_a_list_is_placed_on_the_list_item() -> None:
    text = JOB.replace(
        '  command: ["python", "-c", "print(1)"]', "  command:\n    - python\n    - 3\n"
    )
    [error] = check(text).errors
    assert (error.line, error.path) == (8, "spec.command[1]")


def test_a_missing_field_points_at_its_parent() -> None:
    text = "apiVersion: sapwood/v1\nkind: Job\nmetadata:\n  name: train\nspec:\n  priority: high\n"
    lines = {e.line for e in check(text).errors}
    assert lines == {5}


def test_errors_in_a_later_document_count_lines_from_the_top() -> None:
    text = JOB + "---\n" + JOB.replace("name: train", "name: Bad_Name")
    [error] = check(text).errors
    assert error.path == "metadata.name"
    assert error.line == 11


def test_json_is_checked_like_yaml() -> None:
    text = '{\n  "apiVersion": "sapwood/v1",\n  "kind": "Jobb",\n  "metadata": {"name": "a"}\n}\n'
    [error] = check(text).errors
    assert (error.line, error.path) == (3, "kind")


def test_a_syntax_error_names_its_line() -> None:
    [error] = check("kind: Job\nmetadata: [\n  name: x\n").errors
    assert error.line >= 2
    assert error.message.startswith("invalid YAML")


def test_an_empty_editor_is_an_error_on_no_line() -> None:
    assert check("  \n").errors == [LineError(0, "", "nothing to apply: the editor is empty")]


def test_server_errors_are_placed_by_document_index() -> None:
    text = JOB + "---\n" + JOB.replace("spec:\n", "spec:\n  priority: urgent\n")
    placed = place(text, [("objects[1].spec.priority", "unknown priority"), ("team", "gone")])
    assert placed == [
        LineError(13, "spec.priority", "unknown priority"),
        LineError(0, "team", "gone"),
    ]
