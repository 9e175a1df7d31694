"""Unit files of the local runtime: round trips, damaged files, exit outcomes (pure)."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitReason
from sapwood.server.runtimes.local.procfs import ProcessId
from sapwood.server.runtimes.local.records import (
    ExitInfo,
    LaunchSpec,
    RecordError,
    UnitRecord,
    exit_outcome,
    exit_to_json,
    launch_to_json,
    parse_exit,
    parse_launch,
    parse_record,
    parse_workload,
    record_to_json,
    with_stop_requested,
    workload_to_json,
    write_atomic,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
RECORD = UnitRecord(
    key=UnitKey("Service", "research", "api", 2),
    generation=4,
    started_at=NOW,
    shim=ProcessId(123, 456789),
    grace_period_s=12.5,
    port=8123,
    cpu_set=(2, 3),
    gpu_indices=(1,),
    mechanism="cgroup-v1",
    cgroup_dirs=("/sys/fs/cgroup/memory/x", "/sys/fs/cgroup/cpu/x"),
)


def test_record_round_trip() -> None:
    assert parse_record(record_to_json(RECORD)) == RECORD
    stopped = with_stop_requested(RECORD)
    assert parse_record(record_to_json(stopped)).stop_requested


def test_launch_and_workload_round_trip() -> None:
    spec = LaunchSpec(
        command=("python", "-c", "pass"),
        env={"A": "1"},
        workdir=None,
        cpus=(0, 1),
        procs_files=("/x/cgroup.procs",),
        cgroup_dirs=("/x",),
        mechanism="cgroup-v2",
        memory_dir="/x",
        rlimit_as_bytes=0,
        log_max_bytes=1024,
    )
    assert parse_launch(launch_to_json(spec)) == spec
    assert parse_workload(workload_to_json(ProcessId(5, 6))) == ProcessId(5, 6)


def test_exit_round_trip() -> None:
    info = ExitInfo(finished_at=NOW, returncode=-9, oom_kills=1, detail="x")
    assert parse_exit(exit_to_json(info)) == info


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"key": {"kind": "Job"}}',
        record_to_json(RECORD).replace("+00:00", ""),  # naive timestamp
    ],
)
def test_damaged_record_is_a_record_error(text: str) -> None:
    with pytest.raises(RecordError):
        parse_record(text)


def outcome(returncode: int | None, **fields: object) -> tuple[int | None, str]:
    stop = bool(fields.pop("stop", False))
    info = ExitInfo(finished_at=NOW, returncode=returncode, **fields)  # type: ignore[arg-type]
    return exit_outcome(info, stop_requested=stop)


def test_exit_outcomes() -> None:
    kill = -int(signal.SIGKILL)
    assert outcome(0) == (0, UnitReason.COMPLETED)
    assert outcome(2) == (2, UnitReason.ERROR)
    assert outcome(-int(signal.SIGTERM)) == (143, UnitReason.KILLED)
    assert outcome(kill, oom_kills=1) == (137, UnitReason.OOM_KILLED)
    assert outcome(kill, oom_kills=1, stop=True) == (137, UnitReason.OOM_KILLED)
    assert outcome(0, stop=True) == (0, UnitReason.STOPPED)
    assert outcome(None, stop=True) == (None, UnitReason.STOPPED)
    assert outcome(None) == (None, UnitReason.KILLED)
    not_found = outcome(127, spawn_error=UnitReason.COMMAND_NOT_FOUND, stop=True)
    assert not_found == (127, UnitReason.COMMAND_NOT_FOUND)
    # An OOM kill of some child does not make a clean exit of the main process an OOM.
    assert outcome(0, oom_kills=1) == (0, UnitReason.COMPLETED)


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
