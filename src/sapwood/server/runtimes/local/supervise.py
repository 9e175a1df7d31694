"""Watching and ending one launched unit, from its files and /proc. Blocking: call from a
worker thread, except `to_state` which is pure."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sapwood.server.runtimes.base import UnitPhase, UnitState
from sapwood.server.runtimes.local import cgroups
from sapwood.server.runtimes.local.procfs import (
    ProcessId,
    group_members,
    is_alive,
    live_descendants,
    reap_if_child,
    signal_pids,
)
from sapwood.server.runtimes.local.records import (
    EXIT,
    LAUNCH,
    RECORD,
    WORKLOAD,
    ExitInfo,
    UnitRecord,
    exit_outcome,
    exit_to_json,
    parse_exit,
    parse_record,
    parse_workload,
    read_optional,
    record_to_json,
    write_atomic,
)


@dataclass
class Supervised:
    """The runtime's view of one unit: its record plus what its shim has reported."""

    record: UnitRecord
    unit_dir: Path
    workload: ProcessId | None = None
    exit: ExitInfo | None = None
    shim_gone: bool = False

    @property
    def running(self) -> bool:
        return self.exit is None


def load_unit(unit_dir: Path) -> Supervised | None:
    """The unit recorded in `unit_dir`, None when there is no record (forgotten).

    Raises RecordError for a damaged record."""
    text = read_optional(unit_dir / RECORD)
    if text is None:
        return None
    unit = Supervised(parse_record(text), unit_dir)
    _read_reports(unit)
    return unit


def save_record(unit: Supervised) -> None:
    write_atomic(unit.unit_dir / RECORD, record_to_json(unit.record))


def _read_reports(unit: Supervised) -> None:
    if unit.workload is None:
        text = read_optional(unit.unit_dir / WORKLOAD)
        unit.workload = None if text is None else parse_workload(text)
    if unit.exit is None:
        text = read_optional(unit.unit_dir / EXIT)
        unit.exit = None if text is None else parse_exit(text)


def refresh(unit: Supervised, now: Callable[[], datetime]) -> bool:
    """Update a running unit from its shim's files and /proc; True when it just ended.

    A shim that vanished without writing exit.json (killed, host rebooted) means the unit
    is over: whatever it left is killed and an exit file is written on its behalf."""
    if not unit.running:
        reap_shim(unit)
        return False
    _read_reports(unit)
    if not unit.running:
        return True
    shim = unit.record.shim
    reap_if_child(shim)
    if shim.pid != 0 and is_alive(shim):
        return False
    _read_reports(unit)  # the shim may have finished between the two reads
    if not unit.running:
        return True
    kill_all(unit)
    info = ExitInfo(finished_at=now(), returncode=None, detail="supervisor vanished")
    write_atomic(unit.unit_dir / EXIT, exit_to_json(info))
    unit.exit = info
    return True


def reap_shim(unit: Supervised) -> bool:
    """Collect an ended unit's shim if it is our child (no zombies in a long-lived server);
    True once the shim is gone. Liveness is read before reaping so a shim that turns into a
    zombie in between is not mistaken for gone."""
    if not unit.shim_gone:
        shim = unit.record.shim
        if shim.pid == 0 or not is_alive(shim):
            reap_if_child(shim)
            unit.shim_gone = True
    return unit.shim_gone


def unit_pids(unit: Supervised) -> set[int]:
    """Every live process of the unit except its shim."""
    pids = cgroups.list_procs([Path(d) for d in unit.record.cgroup_dirs])
    shim = unit.record.shim
    if shim.pid != 0:
        pids |= live_descendants(shim)
    if unit.workload is not None and (shim.pid == 0 or is_alive(shim)):
        # The workload's group outlives its leader; only trust the pgid while the shim,
        # which keeps the group's processes as descendants, is still there.
        pids |= group_members(unit.workload.pid)
    pids.discard(shim.pid)
    return pids


def terminate(unit: Supervised) -> None:
    """Ask the unit to end: SIGTERM to the shim, which forwards it to the workload's
    process group; straight to the processes when the shim is gone."""
    shim = unit.record.shim
    if shim.pid != 0 and is_alive(shim):
        signal_pids([shim.pid], signal.SIGTERM)
    else:
        signal_pids(unit_pids(unit), signal.SIGTERM)


def kill_all(unit: Supervised, *, attempts: int = 100) -> bool:
    """SIGKILL every process of the unit (not the shim, which reports the exit) until none
    is left; repeated because a process may fork while we list. True when none remain."""
    for _ in range(attempts):
        pids = unit_pids(unit)
        if not pids:
            return True
        signal_pids(pids, signal.SIGKILL)
        time.sleep(0.02)
    return not unit_pids(unit)


def kill_shim(unit: Supervised) -> None:
    shim = unit.record.shim
    if shim.pid != 0 and is_alive(shim):
        signal_pids([shim.pid], signal.SIGKILL)
        reap_if_child(shim)


def discard(unit: Supervised) -> None:
    """Remove a finished unit's record and cgroups; its logs stay."""
    cgroups.remove_unit_cgroup([Path(d) for d in unit.record.cgroup_dirs])
    for name in (RECORD, EXIT, WORKLOAD, LAUNCH):
        (unit.unit_dir / name).unlink(missing_ok=True)


def set_affinity(pids: Iterable[int], cpus: Iterable[int]) -> None:
    """Best effort, per thread: sched_setaffinity on a pid only moves its main thread."""
    cores = set(cpus)
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cores)


def to_state(unit: Supervised) -> UnitState:
    record = unit.record
    state = UnitState(
        key=record.key,
        phase=UnitPhase.RUNNING,
        pid=None if unit.workload is None else unit.workload.pid,
        started_at=record.started_at,
        generation=record.generation,
        port=record.port,
        cpu_set=record.cpu_set,
        limits_enforced_by=record.mechanism,
        isolated_by=record.isolation,
        gpu_indices=record.gpu_indices,
    )
    if unit.exit is None:
        return state
    exit_code, reason = exit_outcome(unit.exit, stop_requested=record.stop_requested)
    return replace(
        state,
        phase=UnitPhase.EXITED,
        exit_code=exit_code,
        reason=str(reason),
        finished_at=unit.exit.finished_at,
    )
