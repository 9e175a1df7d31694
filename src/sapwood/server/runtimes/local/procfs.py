"""Processes as /proc shows them: identity that survives PID reuse, trees, killing.

A pid alone is not an identity: after a restart the kernel may have given it to another
process. A `ProcessId` pairs it with the start time (field 22 of /proc/<pid>/stat, in
clock ticks since boot), which never repeats for a reused pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessId:
    pid: int
    start_ticks: int


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgid: int
    start_ticks: int


def parse_stat(text: str) -> ProcStat:
    """Parse /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses,
    so fields are counted from the last ')'."""
    head, _, tail = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()
    # tail starts at field 3 (state); field N is fields[N - 3].
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        start_ticks=int(fields[19]),
    )


def read_stat(pid: int) -> ProcStat | None:
    """Returns None when the process does not exist (or vanished while reading)."""
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def identify(pid: int) -> ProcessId | None:
    stat = read_stat(pid)
    return None if stat is None else ProcessId(pid, stat.start_ticks)


def is_alive(proc: ProcessId) -> bool:
    """True when this very process (pid and start time) exists and is not a zombie."""
    stat = read_stat(proc.pid)
    return stat is not None and stat.start_ticks == proc.start_ticks and stat.state != "Z"


def reap_if_child(proc: ProcessId) -> None:
    """Collect the exit status of our own exited child so it does not linger as a zombie.

    Only acts on the identified process; no-op for anyone else's process."""
    stat = read_stat(proc.pid)
    if stat is None or stat.start_ticks != proc.start_ticks or stat.state != "Z":
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)


def list_stats() -> list[ProcStat]:
    stats = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                stats.append(stat)
    return stats


def descendants(children_of: Mapping[int, Iterable[int]], root: int) -> set[int]:
    """All pids below `root` in a parent -> children map (root excluded)."""
    found: set[int] = set()
    pending = list(children_of.get(root, ()))
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children_of.get(pid, ()))
    return found


def live_descendants(root: ProcessId) -> set[int]:
    """Non-zombie descendants of a live `root`; empty when root is gone."""
    if not is_alive(root):
        return set()
    stats = list_stats()
    children_of: dict[int, list[int]] = {}
    for stat in stats:
        children_of.setdefault(stat.ppid, []).append(stat.pid)
    zombies = {stat.pid for stat in stats if stat.state == "Z"}
    return descendants(children_of, root.pid) - zombies


def group_members(pgid: int) -> set[int]:
    """Non-zombie members of a process group."""
    return {s.pid for s in list_stats() if s.pgid == pgid and s.state != "Z"}


def signal_pids(pids: Iterable[int], sig: signal.Signals) -> None:
    """Best effort: a process may exit between listing and signalling."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
