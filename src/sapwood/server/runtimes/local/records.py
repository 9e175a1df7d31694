"""The files in a unit's directory (data_dir/units/<slug>/) and how to read them.

- launch.json   runtime -> shim: what to run and how (written before the shim starts)
- record.json   runtime-owned: key, identity of the shim, allocations, stop request
- workload.json shim-owned: identity of the workload process, once it runs
- exit.json     shim-owned (the runtime's when the shim vanished): how the workload ended

Every file is written whole to a temporary name and renamed, so a reader sees the old or
the new content, never half of it. Parsing is pure, so a damaged file is a clear error.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sapwood.server.runtimes.base import UnitKey, UnitReason
from sapwood.server.runtimes.local.procfs import ProcessId

LAUNCH, RECORD, WORKLOAD, EXIT = "launch.json", "record.json", "workload.json", "exit.json"
CURRENT_LOG, PREVIOUS_LOG = "current.log", "previous.log"


class RecordError(ValueError):
    """A unit file exists but cannot be understood."""


@dataclass(frozen=True)
class LaunchSpec:
    command: tuple[str, ...]
    env: dict[str, str]
    workdir: str | None
    cpus: tuple[int, ...]  # affinity of the workload
    procs_files: tuple[str, ...]  # cgroup.procs files the workload joins before exec
    cgroup_dirs: tuple[str, ...]  # to find every process of the unit
    mechanism: str  # UnitState.limits_enforced_by
    memory_dir: str | None  # where OOM kills are counted
    rlimit_as_bytes: int  # 0 = none; used only without cgroups
    log_max_bytes: int
    # The command is bubblewrap around the workload: signals go past its two processes.
    sandboxed: bool = False


@dataclass(frozen=True)
class UnitRecord:
    key: UnitKey
    generation: int
    started_at: datetime
    shim: ProcessId
    grace_period_s: float
    port: int | None = None
    cpu_set: tuple[int, ...] = ()
    gpu_indices: tuple[int, ...] = ()
    mechanism: str = "none"
    cgroup_dirs: tuple[str, ...] = ()
    stop_requested: bool = False
    isolation: str = "none"  # Sandbox.describe() when it was launched


@dataclass(frozen=True)
class ExitInfo:
    finished_at: datetime
    returncode: int | None  # Popen style: negative = killed by that signal; None = unknown
    oom_kills: int = 0
    spawn_error: str | None = None  # a UnitReason value when the command never ran
    detail: str = field(default="")


def launch_to_json(spec: LaunchSpec) -> str:
    return json.dumps(asdict(spec))


def parse_launch(text: str) -> LaunchSpec:
    data = _load(text)
    try:
        return LaunchSpec(
            command=tuple(data["command"]),
            env=dict(data["env"]),
            workdir=data["workdir"],
            cpus=tuple(data["cpus"]),
            procs_files=tuple(data["procs_files"]),
            cgroup_dirs=tuple(data["cgroup_dirs"]),
            mechanism=data["mechanism"],
            memory_dir=data["memory_dir"],
            rlimit_as_bytes=int(data["rlimit_as_bytes"]),
            log_max_bytes=int(data["log_max_bytes"]),
            sandboxed=bool(data.get("sandboxed", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"bad launch file: {exc!r}") from exc


def record_to_json(record: UnitRecord) -> str:
    data = asdict(record)
    data["started_at"] = record.started_at.isoformat()
    return json.dumps(data)


def parse_record(text: str) -> UnitRecord:
    data = _load(text)
    try:
        return UnitRecord(
            key=UnitKey(**data["key"]),
            generation=int(data["generation"]),
            started_at=_parse_time(data["started_at"]),
            shim=ProcessId(**data["shim"]),
            grace_period_s=float(data["grace_period_s"]),
            port=data.get("port"),
            cpu_set=tuple(data.get("cpu_set", ())),
            gpu_indices=tuple(data.get("gpu_indices", ())),
            mechanism=data.get("mechanism", "none"),
            cgroup_dirs=tuple(data.get("cgroup_dirs", ())),
            stop_requested=bool(data.get("stop_requested", False)),
            isolation=str(data.get("isolation", "none")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"bad unit record: {exc!r}") from exc


def with_stop_requested(record: UnitRecord) -> UnitRecord:
    return replace(record, stop_requested=True)


def workload_to_json(proc: ProcessId) -> str:
    return json.dumps(asdict(proc))


def parse_workload(text: str) -> ProcessId:
    data = _load(text)
    try:
        return ProcessId(pid=int(data["pid"]), start_ticks=int(data["start_ticks"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"bad workload file: {exc!r}") from exc


def exit_to_json(info: ExitInfo) -> str:
    data = asdict(info)
    data["finished_at"] = info.finished_at.isoformat()
    return json.dumps(data)


def parse_exit(text: str) -> ExitInfo:
    data = _load(text)
    try:
        returncode = data["returncode"]
        return ExitInfo(
            finished_at=_parse_time(data["finished_at"]),
            returncode=None if returncode is None else int(returncode),
            oom_kills=int(data.get("oom_kills", 0)),
            spawn_error=data.get("spawn_error"),
            detail=str(data.get("detail", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"bad exit file: {exc!r}") from exc


def exit_outcome(info: ExitInfo, *, stop_requested: bool) -> tuple[int | None, str]:
    """(exit_code, reason) of an ended unit. A signal N becomes exit code 128 + N.

    Order matters: a command that never ran is CommandNotFound even if stop() raced it;
    an OOM kill is reported as such even when stop() was in progress.
    """
    code = info.returncode
    exit_code = None if code is None else (128 - code if code < 0 else code)
    if info.spawn_error is not None:
        return exit_code, info.spawn_error
    if info.oom_kills > 0 and code == -signal.SIGKILL:
        return exit_code, UnitReason.OOM_KILLED
    if stop_requested:
        return exit_code, UnitReason.STOPPED
    if code is None or code < 0:
        return exit_code, UnitReason.KILLED
    return exit_code, UnitReason.COMPLETED if code == 0 else UnitReason.ERROR


def write_atomic(path: Path, text: str) -> None:
    """Write `text` so readers see either the old file or the whole new one; the file is
    readable by its owner only (unit files may hold a workload's environment)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_optional(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    return data


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"naive timestamp {value!r}")
    return moment
