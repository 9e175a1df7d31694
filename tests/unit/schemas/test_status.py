"""Typed statuses read what the controller writes and give back the same JSON.

``statuses.json`` holds statuses the controller wrote while the fake-runtime integration
tests ran (tests/integration/controller_fake): one for each kind, phase and reason seen,
and enough more to cover every key. Its targets are in ``target`` (see ``read_target``
for the keys servers wrote before).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sapwood.client import JobStatus as SdkJobStatus
from sapwood.client import Phase as SdkPhase
from sapwood.schemas import (
    FeedStatus,
    JobStatus,
    Object,
    ObjectStatus,
    Phase,
    Reason,
    ReplicaState,
    ServiceStatus,
    WorkspaceStatus,
    dump_status,
    parse_status,
)
from sapwood.schemas.status import read_target, with_target

CAPTURED: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "statuses.json").read_text(encoding="utf-8")
)
TYPES = {
    "Job": JobStatus,
    "Service": ServiceStatus,
    "Workspace": WorkspaceStatus,
    "Feed": FeedStatus,
}


def _id(item: dict[str, Any]) -> str:
    status = item["status"]
    return f"{item['kind']}-{status.get('phase')}-{status.get('reason')}"


@pytest.mark.parametrize("item", CAPTURED, ids=[_id(i) for i in CAPTURED])
def test_a_written_status_round_trips_unchanged(item: dict[str, Any]) -> None:
    typed = parse_status(item["kind"], item["status"])
    assert type(typed) is TYPES[item["kind"]]
    assert dump_status(typed) == item["status"]
    # Every key the controller writes is described, none passes through untyped.
    assert not typed.model_extra


def test_the_captured_statuses_cover_every_kind_and_their_phases() -> None:
    seen = {(i["kind"], i["status"]["phase"]) for i in CAPTURED}
    assert {kind for kind, _ in seen} == set(TYPES)
    assert {phase for _, phase in seen} >= {
        Phase.PENDING,
        Phase.RUNNING,
        Phase.SUCCEEDED,
        Phase.FAILED,
        Phase.PAUSED,
        Phase.DEGRADED,
    }


def test_every_reason_the_controller_wrote_is_a_reason() -> None:
    reasons = {i["status"]["reason"] for i in CAPTURED if "reason" in i["status"]}
    assert reasons
    for reason in reasons:
        typed = parse_status("Job", {"phase": "Failed", "reason": reason})
        assert isinstance(typed.reason, Reason), reason


def test_fields_read_as_their_types() -> None:
    job = next(parse_status("Job", i["status"]) for i in CAPTURED if i["status"].get("history"))
    assert isinstance(job, JobStatus)
    assert job.phase in (Phase.PENDING, Phase.RUNNING, Phase.SUCCEEDED, Phase.FAILED)
    assert job.history is not None
    assert job.history[0].run == 1
    assert isinstance(job.history[0].phase, Phase)
    assert job.replicas is not None
    assert all(isinstance(r.state, ReplicaState) for r in job.replicas)
    service = next(
        parse_status("Service", i["status"])
        for i in CAPTURED
        if i["kind"] == "Service" and i["status"].get("endpoints")
    )
    assert isinstance(service, ServiceStatus)
    assert service.target is not None
    assert service.target.replicas is not None
    assert service.ready_replicas == len(service.endpoints or [])
    assert isinstance(service.phase_since, datetime)
    assert service.phase_since.tzinfo is not None


def test_a_status_without_target_reads_the_keys_older_servers_wrote() -> None:
    old = {"phase": "Running", "readyReplicas": 1, "desiredWorkers": 3, "backlog": 25}
    feed = parse_status("Feed", old)
    assert isinstance(feed, FeedStatus)
    assert feed.target is not None
    assert feed.target.workers == 3
    assert dump_status(feed) == {
        "phase": "Running",
        "readyReplicas": 1,
        "target": {"workers": 3},
        "backlog": 25,
    }
    assert read_target({"desiredReplicas": 2}).replicas == 2
    assert read_target({"target": {"replicas": 4}, "desiredReplicas": 2}).replicas == 4
    assert read_target({}).workers is None


def test_with_target_sets_the_target_and_drops_the_old_keys() -> None:
    status = {"phase": "Running", "desiredReplicas": 2, "target": {"workers": 1}}
    assert with_target(status, replicas=3) == {
        "phase": "Running",
        "target": {"workers": 1, "replicas": 3},
    }
    assert status["desiredReplicas"] == 2  # the given status is left as it was


def test_what_a_newer_server_adds_is_kept() -> None:
    newer = {"phase": "Running", "conditions": [{"type": "Ready"}], "reason": "SomethingNew"}
    typed = parse_status("Service", newer)
    assert typed.reason == "SomethingNew"
    assert not isinstance(typed.reason, Reason)
    assert dump_status(typed) == newer
    unknown = parse_status("Job", {"phase": "Hibernating"})
    assert unknown.phase is Phase.UNKNOWN


def test_an_unknown_kind_gets_the_shared_status() -> None:
    typed = parse_status("Dataset", {"phase": "Running", "size": 3})
    assert type(typed) is ObjectStatus
    assert dump_status(typed) == {"phase": "Running", "size": 3}


def test_a_status_built_in_code_dumps_as_the_wire_form() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    status = JobStatus(phase=Phase.FAILED, phase_since=since, reason=Reason.DEADLINE_EXCEEDED)
    assert dump_status(status) == {
        "phase": "Failed",
        "phaseSince": "2026-01-01T00:00:00+00:00",
        "reason": "DeadlineExceeded",
    }
    moved = status.model_copy(update={"phase": Phase.PENDING, "run": 2})
    assert dump_status(moved)["phase"] == "Pending"
    assert dump_status(moved)["run"] == 2


def _object(kind: str, status: dict[str, Any]) -> Object:
    now = "2026-01-01T00:00:00+00:00"
    meta = {
        "name": "x",
        "team": "t",
        "uid": "u",
        "generation": 1,
        "resourceVersion": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    return Object.model_validate({"kind": kind, "metadata": meta, "spec": {}, "status": status})


def test_an_object_gives_its_phase_and_typed_status_and_keeps_the_json() -> None:
    item = next(i for i in CAPTURED if i["kind"] == "Job")
    obj = _object("Job", item["status"])
    assert obj.phase is Phase(item["status"]["phase"])
    assert isinstance(obj.typed_status, SdkJobStatus)
    assert obj.model_dump(mode="json", by_alias=True)["status"] == item["status"]
    assert _object("Job", {}).phase is None
    assert _object("Job", {"phase": "Hibernating"}).phase is SdkPhase.UNKNOWN
