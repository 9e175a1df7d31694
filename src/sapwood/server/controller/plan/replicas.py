"""What the controller remembers about each replica, kept in the object's status.

Status is the only memory that survives a controller crash, so everything a decision
needs (restart counts, backoff, the last exit already accounted for) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

# The wire's vocabulary (schemas/status.py); the planners take it from here.
from sapwood.schemas.status import ReplicaState as ReplicaState
from sapwood.server.units import UnitPhase, UnitReason, UnitState

MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Exit:
    code: int | None
    reason: str
    at: str  # ISO time
    message: str | None = None  # the runtime's words, e.g. where a command was looked for

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "code"}


@dataclass(frozen=True)
class ReplicaRecord:
    index: int
    state: str = ReplicaState.WAITING.value  # a ReplicaState value
    restarts: int = 0
    backoff: int = 0  # failures since the replica last ran healthily for a while
    run: str | None = None  # started_at of the last run whose exit was accounted for
    next_start_at: str | None = None
    ready: bool = False
    pid: int | None = None
    port: int | None = None
    host: str | None = None  # None: 127.0.0.1
    generation: int | None = None
    last_exit: Exit | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "state": self.state,
            "restarts": self.restarts,
            "backoff": self.backoff,
            "run": self.run,
            "nextStartAt": self.next_start_at,
            "ready": self.ready,
            "pid": self.pid,
            "port": self.port,
            "host": self.host,
            "generation": self.generation,
            "lastExit": self.last_exit.to_dict() if self.last_exit else None,
        }
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplicaRecord:
        last = data.get("lastExit")
        return cls(
            index=int(data["index"]),
            state=str(data.get("state", ReplicaState.WAITING.value)),
            restarts=int(data.get("restarts", 0)),
            backoff=int(data.get("backoff", 0)),
            run=data.get("run"),
            next_start_at=data.get("nextStartAt"),
            ready=bool(data.get("ready", False)),
            pid=data.get("pid"),
            port=data.get("port"),
            host=data.get("host"),
            generation=data.get("generation"),
            last_exit=Exit(
                last.get("code"), str(last.get("reason")), str(last.get("at")), last.get("message")
            )
            if isinstance(last, dict)
            else None,
        )


def load_records(status: dict[str, Any], count: int | Iterable[int]) -> dict[int, ReplicaRecord]:
    """Records for replicas 0..count-1, or for the indices given (new ones start empty);
    others are dropped."""
    stored = {}
    for item in status.get("replicas") or []:
        if isinstance(item, dict) and "index" in item:
            record = ReplicaRecord.from_dict(item)
            stored[record.index] = record
    indices = range(count) if isinstance(count, int) else count
    return {i: stored.get(i, ReplicaRecord(i)) for i in indices}


def dump_records(records: dict[int, ReplicaRecord]) -> list[dict[str, Any]]:
    return [records[i].to_dict() for i in sorted(records)]


def run_id(unit: UnitState) -> str:
    return unit.started_at.isoformat()


def new_exit(unit: UnitState | None, record: ReplicaRecord) -> Exit | None:
    """The unit's exit if it has not been accounted for in ``record`` yet."""
    if unit is None or unit.phase is not UnitPhase.EXITED or record.run == run_id(unit):
        return None
    finished = unit.finished_at or unit.started_at
    reason = unit.reason or (UnitReason.COMPLETED if unit.exit_code == 0 else UnitReason.ERROR)
    # A runtime's message can be long (a pod's termination message): statuses stay small.
    message = unit.message[:MESSAGE_CHARS] if unit.message else None
    return Exit(unit.exit_code, str(reason), finished.isoformat(), message)


def running(unit: UnitState | None) -> bool:
    return unit is not None and unit.phase is UnitPhase.RUNNING


def due(record: ReplicaRecord, now: datetime) -> bool:
    return record.next_start_at is None or datetime.fromisoformat(record.next_start_at) <= now


def observed(record: ReplicaRecord, unit: UnitState) -> ReplicaRecord:
    """The record refreshed from a running unit."""
    return replace(
        record,
        state=ReplicaState.RUNNING.value,
        pid=unit.pid,
        port=unit.port,
        host=None if unit.host == "127.0.0.1" else unit.host,
        generation=unit.generation,
        next_start_at=None,
    )


def describe_exit(exit: Exit) -> str:
    code = f" with code {exit.code}" if exit.code is not None else ""
    detail = f": {exit.message}" if exit.message else ""
    return f"exited{code} ({exit.reason}){detail}"
