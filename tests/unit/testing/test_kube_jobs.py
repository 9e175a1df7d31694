"""The API double's Job controller, its pure part: counting pods, what to create, names."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.testing.kube_jobs import (
    INDEX_KEY,
    JOB_NAME_LABEL,
    format_indexes,
    generate_prefix,
    parse_indexes,
    pending_indexes,
    pod_from_template,
    pods_wanted,
    tally,
)

Obj = dict[str, Any]


def _job(**spec: Any) -> Obj:
    template = {
        "metadata": {"labels": {"app": "x"}, "finalizers": ["sapwood.dev/unit"]},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "i"}]},
    }
    return {"metadata": {"name": "train", "uid": "u-1"}, "spec": {"template": template, **spec}}


def _pod(
    uid: str, phase: str = "Running", *, index: int | None = None, deleted: bool = False
) -> Obj:
    meta: Obj = {"uid": uid, "annotations": {}}
    if index is not None:
        meta["annotations"][INDEX_KEY] = str(index)
    if deleted:
        meta["deletionTimestamp"] = "2026-11-23T00:00:00Z"
    return {"metadata": meta, "status": {"phase": phase}}


@pytest.mark.parametrize("indexes", [set(), {0}, {0, 1, 2}, {0, 2, 3, 4, 9}])
def test_completed_indexes_round_trip(indexes: set[int]) -> None:
    assert parse_indexes(format_indexes(indexes)) == indexes


def test_completed_indexes_are_written_as_intervals() -> None:
    assert format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"


def test_each_finished_pod_is_counted_once_and_a_deleted_one_as_failed() -> None:
    job = _job(completions=3, parallelism=3)
    pods = [_pod("a", "Succeeded"), _pod("b", "Failed"), _pod("c", deleted=True), _pod("d")]

    status, added = tally(job, pods, counted=set())
    again, more = tally({**job, "status": status}, pods, counted=added)

    assert (status["succeeded"], status["failed"]) == (1, 2)
    assert added == {"a", "b", "c"}
    assert (again["succeeded"], again["failed"], more) == (1, 2, set())


def test_a_job_wants_pods_up_to_parallelism_and_none_past_its_backoff_limit() -> None:
    assert pods_wanted(_job(), []) == 1
    assert pods_wanted(_job(parallelism=3, completions=5), [_pod("a")]) == 2
    assert pods_wanted(_job(suspend=True), []) == 0
    failed = {**_job(backoffLimit=0), "status": {"failed": 1}}
    assert pods_wanted(failed, []) == 0


def test_an_indexed_job_runs_each_index_not_done_or_running() -> None:
    job = {**_job(completionMode="Indexed", completions=4), "status": {"completedIndexes": "0"}}
    assert pending_indexes(job, [_pod("a", index=2)]) == [1, 3]


def test_a_pod_is_built_from_the_template_as_the_job_controller_builds_it() -> None:
    pod = pod_from_template(_job(), index=None, suffix="x7k2q")
    meta = pod["metadata"]
    assert meta["name"] == "train-x7k2q"
    assert meta["labels"] == {
        "app": "x",
        JOB_NAME_LABEL: "train",
        "batch.kubernetes.io/controller-uid": "u-1",
        "job-name": "train",
        "controller-uid": "u-1",
    }
    assert meta["finalizers"] == ["sapwood.dev/unit"]
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Job", "u-1", True)
    indexed = pod_from_template(_job(), index=2, suffix="abcde")
    assert indexed["metadata"]["name"] == "train-2-abcde"
    assert indexed["spec"]["hostname"] == "train-2"


def test_generated_names_fit_a_dns_label() -> None:
    long = "j" * 63
    assert len(generate_prefix(long, None) + "abcde") == 63
    assert len(generate_prefix(long, 12) + "abcde") == 63
