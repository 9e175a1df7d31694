"""The one-line results of `apply` and `delete`, as kubectl prints them."""

from __future__ import annotations

from sapwood.cli.apply import apply_line
from sapwood.cli.delete import delete_line
from sapwood.schemas import ApplyAction, ApplyResult, DeleteResponse
from tests.unit.cli.conftest import MakeObject


def test_apply_lines(make_object: MakeObject) -> None:
    created = ApplyResult(action=ApplyAction.CREATED, object=make_object("Job", "train"))
    same = ApplyResult(action=ApplyAction.UNCHANGED, object=make_object("Workspace", "lab"))
    assert apply_line(created, dry_run=False) == "job/train created"
    assert apply_line(same, dry_run=True) == "workspace/lab unchanged (dry run)"


def test_delete_lines(make_object: MakeObject) -> None:
    web = make_object("Service", "web")
    assert delete_line(DeleteResponse(object=web, finished=True)) == "service/web deleted"
    assert delete_line(DeleteResponse(object=web, finished=False)) == (
        "service/web marked for deletion"
    )
