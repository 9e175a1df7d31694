"""Control groups written directly to cgroupfs: memory and CPU quota limits, and tracking.

Which hierarchy to use is a pure decision (`candidate_plans`) over what /proc/self/mountinfo
and /proc/self/cgroup say, tried in order by the runtime (`prepare`):

1. cgroup v2, when the server's own cgroup offers the memory and cpu controllers and they
   can be enabled for a child (the server's cgroup must then hold no processes itself,
   except at the root: v2's "no internal processes" rule);
2. cgroup v1, with units nested under the server's own cgroup in the memory and cpu
   hierarchies (a hybrid layout qualifies);
3. none: the runtime falls back to rlimits.

Each unit gets `<server cgroup>/<namespace>/<slug>` per hierarchy; the namespace is derived
from the data dir so two runtimes on one host never share a cgroup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

V1 = "cgroup-v1"
V2 = "cgroup-v2"
NEEDED = ("memory", "cpu")
UNLIMITED_V1 = 1 << 62  # v1 reports "no limit" as a page-rounded huge number


@dataclass(frozen=True)
class CgroupMount:
    version: int  # 1 or 2
    controllers: frozenset[str]  # v1 only; v2 controllers live in cgroup.controllers
    mount_point: Path
    root: str  # the mount's root inside the hierarchy (non-"/" in cgroup namespaces)


@dataclass(frozen=True)
class CgroupPlan:
    """Where unit cgroups go: one parent directory per controller (v2: the same one)."""

    mechanism: str  # V1 or V2
    parents: tuple[tuple[str, Path], ...]  # (controller, parent dir of unit cgroups)

    def unit_dirs(self, slug: str) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(parent / slug for _, parent in self.parents))

    def memory_dir(self, slug: str) -> Path:
        return dict(self.parents)["memory"] / slug


def namespace_for(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:10]
    return f"sapwood-{digest}"


def parse_mountinfo(text: str) -> list[CgroupMount]:
    mounts = []
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields, tail = pre.split(), post.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, options = tail[0], tail[2].split(",")
        if fstype == "cgroup2":
            mounts.append(CgroupMount(2, frozenset(), Path(fields[4]), fields[3]))
        elif fstype == "cgroup":
            names = frozenset(o for o in options if o in _V1_CONTROLLERS)
            mounts.append(CgroupMount(1, names, Path(fields[4]), fields[3]))
    return mounts


_V1_CONTROLLERS = frozenset(
    {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer", "hugetlb"}
)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Controller -> path from /proc/<pid>/cgroup; the v2 entry is under ""."""
    membership: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            membership[""] = path
        for controller in controllers.split(","):
            if controller:
                membership[controller] = path
    return membership


def _dir_in_mount(mount: CgroupMount, path: str) -> Path:
    relative = PurePosixPath(path)
    root = PurePosixPath(mount.root)
    if relative.is_relative_to(root):
        relative = relative.relative_to(root)
    return mount.mount_point / str(relative).lstrip("/")


def server_cgroup_dirs(
    mounts: Sequence[CgroupMount], membership: dict[str, str]
) -> dict[str, Path]:
    """The server's own cgroup directory per v1 controller, and under "" for v2."""
    dirs: dict[str, Path] = {}
    for mount in mounts:
        if mount.version == 2 and "" in membership:
            dirs[""] = _dir_in_mount(mount, membership[""])
        for controller in mount.controllers:
            if controller in membership:
                dirs[controller] = _dir_in_mount(mount, membership[controller])
    return dirs


def candidate_plans(
    mounts: Sequence[CgroupMount],
    membership: dict[str, str],
    *,
    v2_controllers: frozenset[str],
    namespace: str,
) -> list[CgroupPlan]:
    """Plans to try, best first. `v2_controllers` is the server's v2 cgroup.controllers."""
    dirs = server_cgroup_dirs(mounts, membership)
    plans = []
    if "" in dirs and set(NEEDED) <= v2_controllers:
        parent = dirs[""] / namespace
        plans.append(CgroupPlan(V2, tuple((c, parent) for c in NEEDED)))
    if all(c in dirs for c in NEEDED):
        plans.append(CgroupPlan(V1, tuple((c, dirs[c] / namespace) for c in NEEDED)))
    return plans


def parse_flat_keyed(text: str) -> dict[str, int]:
    """Parse "key value" lines (memory.events, memory.oom_control)."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def oom_kills_from(mechanism: str, text: str) -> int:
    """OOM kills from memory.events (v2) or memory.oom_control (v1) text."""
    values = parse_flat_keyed(text)
    if "oom_kill" in values:
        return values["oom_kill"]
    # Kernels before 4.13 lack v1's oom_kill counter; under_oom is the next best sign.
    return 1 if mechanism == V1 and values.get("under_oom", 0) > 0 else 0


def parse_memory_limit(text: str) -> int | None:
    """memory.max / memory.limit_in_bytes text -> bytes, None when unlimited."""
    value = text.strip()
    if value in ("", "max"):
        return None
    limit = int(value)
    return None if limit >= UNLIMITED_V1 else limit


# Filesystem side: blocking, call from worker threads.


def detect_plans(namespace: str) -> list[CgroupPlan]:
    try:
        mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
        membership = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())
    except OSError:
        return []
    own = server_cgroup_dirs(mounts, membership)
    v2_controllers: frozenset[str] = frozenset()
    if "" in own:
        with contextlib.suppress(OSError):
            v2_controllers = frozenset((own[""] / "cgroup.controllers").read_text().split())
    return candidate_plans(mounts, membership, v2_controllers=v2_controllers, namespace=namespace)


def prepare(plan: CgroupPlan) -> bool:
    """Create the plan's parent cgroups and enable controllers; False when not writable."""
    try:
        for _, parent in plan.parents:
            if plan.mechanism == V2:
                _enable_v2(parent.parent)
            parent.mkdir(exist_ok=True)
            if plan.mechanism == V2:
                _enable_v2(parent)
        return True
    except OSError:
        return False


def _enable_v2(directory: Path) -> None:
    enabled = (directory / "cgroup.subtree_control").read_text().split()
    missing = [c for c in NEEDED if c not in enabled]
    if missing:
        (directory / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))


def create_unit_cgroup(
    plan: CgroupPlan, slug: str, *, memory_bytes: int, cpu_quota_us: int | None
) -> tuple[Path, ...]:
    """Fresh cgroups for one unit with its limits written; raises OSError on failure.

    A leftover cgroup of the same slug (a previous run) is removed first so its OOM counters
    do not leak into the new run."""
    remove_unit_cgroup(plan.unit_dirs(slug))
    parents = dict(plan.parents)
    for directory in plan.unit_dirs(slug):
        directory.mkdir()
    memory_dir, cpu_dir = parents["memory"] / slug, parents["cpu"] / slug
    if plan.mechanism == V2:
        if memory_bytes > 0:
            (memory_dir / "memory.max").write_text(str(memory_bytes))
            _write_optional(memory_dir / "memory.swap.max", "0")
        if cpu_quota_us is not None:
            (cpu_dir / "cpu.max").write_text(f"{cpu_quota_us} 100000")
    else:
        if memory_bytes > 0:
            (memory_dir / "memory.limit_in_bytes").write_text(str(memory_bytes))
            # Without this the unit swaps instead of being OOM-killed (when swap accounting
            # is on; the file is absent otherwise).
            _write_optional(memory_dir / "memory.memsw.limit_in_bytes", str(memory_bytes))
        if cpu_quota_us is not None:
            (cpu_dir / "cpu.cfs_period_us").write_text("100000")
            (cpu_dir / "cpu.cfs_quota_us").write_text(str(cpu_quota_us))
    return plan.unit_dirs(slug)


def _write_optional(path: Path, value: str) -> None:
    with contextlib.suppress(OSError):
        path.write_text(value)


def procs_files(dirs: Sequence[Path]) -> tuple[str, ...]:
    return tuple(str(d / "cgroup.procs") for d in dirs)


def join(procs_file_paths: Sequence[str], pid: int = 0) -> None:
    """Move `pid` (0: the caller) into each cgroup. Safe to call between fork and exec."""
    for path in procs_file_paths:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, str(pid or os.getpid()).encode())
        finally:
            os.close(fd)


def list_procs(dirs: Sequence[Path]) -> set[int]:
    """Every pid in the unit's cgroups; empty when they are gone."""
    pids: set[int] = set()
    for directory in dirs:
        try:
            text = (directory / "cgroup.procs").read_text()
        except OSError:
            continue
        pids.update(int(p) for p in text.split())
    return pids


def read_oom_kills(mechanism: str, memory_dir: Path | None) -> int:
    if memory_dir is None:
        return 0
    name = "memory.events" if mechanism == V2 else "memory.oom_control"
    try:
        return oom_kills_from(mechanism, (memory_dir / name).read_text())
    except OSError:
        return 0


def remove_unit_cgroup(dirs: Sequence[Path]) -> None:
    """Best effort: rmdir fails while processes remain; they are killed before this."""
    for directory in dirs:
        try:
            directory.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            pass


def remove_plan_parents(plan: CgroupPlan) -> None:
    """Remove the namespace cgroups if no unit cgroup is left in them (best effort)."""
    for _, parent in plan.parents:
        with contextlib.suppress(OSError):
            parent.rmdir()


def read_own_memory_limit() -> int | None:
    """The tightest memory limit on the server's own cgroup or its ancestors; None if none."""
    try:
        mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
        membership = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())
    except OSError:
        return None
    own = server_cgroup_dirs(mounts, membership)
    candidates = []
    if "memory" in own:
        candidates.append((own["memory"], "memory.limit_in_bytes"))
    if "" in own:
        candidates.append((own[""], "memory.max"))
    limits = []
    for directory, name in candidates:
        for ancestor in (directory, *directory.parents):
            try:
                limit = parse_memory_limit((ancestor / name).read_text())
            except (OSError, ValueError):
                continue
            if limit is not None:
                limits.append(limit)
    return min(limits) if limits else None
