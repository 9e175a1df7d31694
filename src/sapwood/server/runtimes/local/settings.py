"""Settings of the local runtime, built by the server from its own Settings object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LocalRuntimeSettings:
    """Where the local runtime keeps its state and what it holds back for the system.

    `data_dir` holds units/<slug>/ (record, exit file, logs) and volumes/<team>/<name>/.
    `clock` stamps start and finish times; inject a fake one in tests.
    """

    data_dir: Path
    reserve_cpu_millis: int = 0
    reserve_memory_bytes: int = 0
    log_max_bytes: int = 10 * 1024 * 1024
    clock: Callable[[], datetime] = field(default=utc_now)
    # False: never touch cgroupfs, enforce memory with RLIMIT_AS only (see docs/runtimes.md).
    use_cgroups: bool = True
    # How long start() waits for a unit's shim to report the workload's pid.
    start_timeout_s: float = 10.0
    # Fork shims from a warm launcher process (fast); False spawns a fresh Python each time.
    use_zygote: bool = True
    # Confine workloads (sandbox.py): namespaces, and a uid per team when run as root.
    # False, or a machine that cannot, runs them as the server's user, unconfined.
    isolation: bool = True
    # Without isolation, run several teams' workloads side by side anyway (one trusted
    # tenant); otherwise one team's units wait while another team's run.
    single_tenant: bool = False
    # Folders no workload may see (the server's home); data_dir is always among them.
    hidden: tuple[Path, ...] = ()
