from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sapwood.cli.apply import validated_bodies
from sapwood.cli.output import (
    dump_json,
    dump_yaml,
    format_age,
    format_remaining,
    format_table,
    object_document,
    object_headers,
    object_row,
    object_table,
    objects_document,
    title_words,
)
from sapwood.specs.documents import load_documents, parse_documents
from tests.unit.cli.conftest import NOW, MakeObject


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=0), "0s"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=59), "59s"),
        (timedelta(minutes=3, seconds=30), "3m"),
        (timedelta(hours=2, minutes=59), "2h"),
        (timedelta(days=4, hours=23), "4d"),
        (timedelta(days=400), "400d"),
        (timedelta(seconds=-3), "0s"),  # a server clock slightly ahead of ours
    ],
)
def test_age_reads_like_kubectl(delta: timedelta, expected: str) -> None:
    assert format_age(NOW - delta, NOW) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(days=30) - timedelta(seconds=2), "30d"),
        (timedelta(hours=5, minutes=10), "5h"),
        (timedelta(seconds=90), "2m"),
        (timedelta(seconds=12), "12s"),
    ],
)
def test_remaining_time_rounds_to_the_nearest_unit(delta: timedelta, expected: str) -> None:
    assert format_remaining(NOW + delta, NOW) == expected


def test_age_treats_a_naive_timestamp_as_utc() -> None:
    assert format_age(datetime(2025, 6, 1, 11, 0), NOW) == "1h"


def test_table_aligns_columns_without_trailing_spaces() -> None:
    text = format_table(("NAME", "AGE"), [("a-long-name", "5s"), ("b", "10m")])
    assert text.splitlines() == [
        "NAME          AGE",
        "a-long-name   5s",
        "b             10m",
    ]


def test_job_row(make_object: MakeObject) -> None:
    job = make_object("Job", status={"phase": "Failed", "restarts": 2})
    assert object_headers("Job") == ("NAME", "TEAM", "PHASE", "RESTARTS", "AGE")
    assert object_row(job, now=NOW) == ("train", "research", "Failed", "2", "5m")


def test_service_row_shows_ready_over_replica_bounds(make_object: MakeObject) -> None:
    svc = make_object("Service", "web", status={"phase": "Running", "readyReplicas": 2})
    assert object_headers("Service") == ("NAME", "TEAM", "PHASE", "READY", "RESTARTS", "AGE")
    assert object_row(svc, now=NOW) == ("web", "research", "Running", "2/1..3", "0", "5m")


def test_fixed_size_service_reads_as_one_number(make_object: MakeObject) -> None:
    spec = {"command": "serve", "replicas": {"min": 2, "max": 2}}
    svc = make_object("Service", "web", spec=spec, status={})
    assert object_row(svc, now=NOW)[2:4] == ("-", "0/2")


def test_workspace_row_has_no_restarts(make_object: MakeObject) -> None:
    ws = make_object("Workspace", "lab", age=timedelta(days=3), status={"phase": "Paused"})
    assert object_headers("Workspace") == ("NAME", "TEAM", "PHASE", "AGE")
    assert object_row(ws, now=NOW) == ("lab", "research", "Paused", "3d")


def test_an_object_being_deleted_reads_terminating(make_object: MakeObject) -> None:
    job = make_object("Job")
    job.metadata.deletion_timestamp = NOW
    assert object_row(job, now=NOW)[2] == "Terminating"


def test_wide_adds_resources_priority_and_labels(make_object: MakeObject) -> None:
    job = make_object("Job", labels={"tier": "gpu", "app": "antinex"})
    headers = object_headers("Job", wide=True)
    row = dict(zip(headers, object_row(job, now=NOW, wide=True), strict=True))
    assert headers[-5:] == ("CPU", "MEMORY", "GPU", "PRIORITY", "LABELS")
    assert row["CPU"] == "2"
    assert row["MEMORY"] == "4Gi"
    assert row["GPU"] == "1"
    assert row["PRIORITY"] == "high"
    assert row["LABELS"] == "app=antinex,tier=gpu"
    assert object_row(make_object("Job"), now=NOW, wide=True)[-1] == "<none>"


@pytest.mark.parametrize("kind", ["Job", "Service", "Workspace"])
def test_tables_fit_in_80_columns(make_object: MakeObject, kind: str) -> None:
    # A 20-character name in a 12-character team, in the widest phase, still fits.
    status = {"phase": "Terminating", "restarts": 12, "readyReplicas": 10}
    objects = [
        make_object(kind, "train-antinex-v2-big", team="vision-team1", status=status),
        make_object(kind, "b", age=timedelta(days=120)),
    ]
    text = object_table(kind, objects, now=NOW)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "train-antinex-v2-big" in text


def test_title_words() -> None:
    assert title_words("readyReplicas") == "Ready replicas"
    assert title_words("phase") == "Phase"


def test_yaml_of_one_object_applies_again(make_object: MakeObject) -> None:
    svc = make_object("Service", "web", labels={"app": "web"})
    text = dump_yaml(object_document(svc))
    [parsed] = parse_documents(load_documents(text, source="web.yaml"))
    assert parsed.kind == "Service"
    assert parsed.metadata.name == "web"
    assert parsed.metadata.labels == {"app": "web"}
    assert "deletionTimestamp" not in text


def test_yaml_and_json_lists_apply_again(make_object: MakeObject) -> None:
    objects = [make_object("Job", "a"), make_object("Job", "b")]
    for text in (dump_yaml(objects_document(objects)), dump_json(objects_document(objects))):
        bodies = validated_bodies(load_documents(text, source="list"))
        assert [b["metadata"]["name"] for b in bodies] == ["a", "b"]


def test_document_is_plain_data_with_status(make_object: MakeObject) -> None:
    body = object_document(make_object("Job"))
    assert isinstance(body["metadata"]["createdAt"], str)
    assert body["status"] == {"phase": "Running"}
    assert body["apiVersion"] == "sapwood/v1"
