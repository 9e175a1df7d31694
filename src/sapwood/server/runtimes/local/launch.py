"""Preparing and starting one unit: environment, executable lookup, port, unit directory,
cgroups, and the shim process. Pure helpers first; `launch_unit` is blocking (run it in a
worker thread)."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sapwood.server.runtimes.base import (
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitReason,
    UnitSpec,
)
from sapwood.server.runtimes.local import cgroups, confine, logfile, placement
from sapwood.server.runtimes.local.cgroups import CgroupPlan
from sapwood.server.runtimes.local.placement import cfs_quota_us
from sapwood.server.runtimes.local.procfs import ProcessId, identify
from sapwood.server.runtimes.local.records import (
    EXIT,
    LAUNCH,
    RECORD,
    WORKLOAD,
    LaunchSpec,
    UnitRecord,
    launch_to_json,
    record_to_json,
    write_atomic,
)
from sapwood.server.runtimes.local.sandbox import (
    OFF,
    Sandbox,
    exposes,
    sandbox_env,
    volume_env_name,
    wrap_command,
)
from sapwood.server.runtimes.local.zygote import SHIM_LOG, Zygote

SHIM_MODULE = "sapwood.server.runtimes.local.shim"


@dataclass(frozen=True)
class Allocation:
    """What start() reserved for a unit before launching it."""

    cpu_set: tuple[int, ...]  # exclusive cores; empty for shared units
    affinity: tuple[int, ...]  # where the workload may run
    gpu_indices: tuple[int, ...]
    port: int | None
    cuda_visible_devices: str | None


def volume_dir(data_dir: Path, team: str, volume: str) -> Path:
    return data_dir / "volumes" / team / volume


def build_env(
    server_env: Mapping[str, str],
    unit: UnitSpec,
    allocation: Allocation,
    volume_dirs: Mapping[str, Path],
) -> dict[str, str]:
    """The workload's environment: the server's, the unit's on top, then what the runtime
    assigned (which wins, as the unit cannot know it in advance).

    The server's own SAPWOOD_* settings (its database URL, its token) are not passed on:
    a workload gets only the SAPWOOD_* variables its unit names.
    """
    inherited = {k: v for k, v in server_env.items() if not k.startswith("SAPWOOD_")}
    env = {**inherited, **unit.env}
    if allocation.port is not None:
        env["PORT"] = str(allocation.port)
    if allocation.cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = allocation.cuda_visible_devices
    for name, directory in volume_dirs.items():
        env[volume_env_name(name)] = str(directory)
    return env


def find_executable(command: str, *, path_var: str | None, workdir: str | None) -> str | None:
    """Where `command` resolves to, as exec would find it; None when it cannot run."""
    if "/" in command:
        candidate = Path(workdir or os.getcwd()) / command
        ok = candidate.is_file() and os.access(candidate, os.X_OK)
        return str(candidate) if ok else None
    return shutil.which(command, path=path_var if path_var is not None else os.defpath)


def free_port(taken: Collection[int]) -> int:
    """A port free on 127.0.0.1 right now and not handed to another unit.

    Another program may still take it before the workload binds: the usual race of
    port-0 probing, acceptable for one machine."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            return port
    raise OSError("no free port found")


def check_runnable(unit: UnitSpec, *, hidden: Sequence[Path] = ()) -> None:
    """Raise RuntimePermanentError when the unit can never start as specified, or would
    put one of the `hidden` folders (the server's home and data) within its reach."""
    if not unit.command:
        raise RuntimePermanentError("empty command", reason=UnitReason.ERROR)
    if unit.workdir is not None and not Path(unit.workdir).is_dir():
        raise RuntimePermanentError(
            f"workdir does not exist: {unit.workdir}", reason=UnitReason.ERROR
        )
    if unit.workdir is not None:
        folder = exposes(Path(unit.workdir).resolve(), [h.resolve() for h in hidden])
        if folder is not None:
            raise RuntimePermanentError(
                f"workdir {unit.workdir} is inside the server's data ({folder}); "
                "workloads may not reach it",
                reason=UnitReason.ERROR,
            )
    path_var = unit.env.get("PATH", os.environ.get("PATH"))
    if find_executable(unit.command[0], path_var=path_var, workdir=unit.workdir) is None:
        where = where_looked(unit.command[0], path_var=path_var, workdir=unit.workdir)
        raise RuntimePermanentError(
            f"command not found: {unit.command[0]} ({where})",
            reason=UnitReason.COMMAND_NOT_FOUND,
        )


def where_looked(command: str, *, path_var: str | None, workdir: str | None) -> str:
    """Where `find_executable` looked for `command`, in words a user can act on."""
    if "/" in command:
        candidate = Path(workdir or os.getcwd()) / command
        if candidate.is_file():
            return f"{candidate} is not executable"
        if command.startswith("/"):
            return f"no file {candidate}"
        return f"no file {candidate}, relative to the workdir {workdir or os.getcwd()}"
    folders = [d for d in (path_var if path_var is not None else os.defpath).split(os.pathsep) if d]
    return "searched PATH: " + (", ".join(folders) if folders else "(empty)")


Held = tuple[tuple[int, ...], tuple[int, ...], int | None]  # (cores, GPUs, port) in use


def allocate(
    unit: UnitSpec, *, cores: Sequence[int], gpu_count: int, held: Sequence[Held]
) -> Allocation:
    """Cores, GPUs and a port for `unit` given what running units hold.

    Raises RuntimeTemporaryError when the exclusive cores or GPUs are not free now."""
    taken_cores = {c for held_cores, _, _ in held for c in held_cores}
    taken_gpus = {g for _, gpus, _ in held for g in gpus}
    taken_ports = {p for _, _, p in held if p is not None}
    wanted = placement.exclusive_core_count(unit.cpu_millis)
    cpu_set = placement.pick_exclusive_cores(cores, taken_cores, wanted)
    if cpu_set is None:
        raise RuntimeTemporaryError(f"{wanted} exclusive cores are not free")
    gpus = placement.pick_free(range(gpu_count), taken_gpus, unit.gpus)
    if gpus is None:
        raise RuntimeTemporaryError(f"{unit.gpus} GPUs are not free")
    try:
        port = free_port(taken_ports) if unit.wants_port else None
    except OSError as exc:
        raise RuntimeTemporaryError(f"no free port: {exc}") from exc
    return Allocation(
        cpu_set=cpu_set,
        affinity=cpu_set or placement.shared_cores(cores, taken_cores),
        gpu_indices=gpus,
        port=port,
        cuda_visible_devices=placement.cuda_visible_devices(gpus, host_gpus=gpu_count),
    )


@dataclass(frozen=True)
class LaunchContext:
    data_dir: Path
    plan: CgroupPlan | None
    log_max_bytes: int
    started_at: datetime
    zygote: Zygote | None = None  # forks shims from a warm interpreter; None: spawn each
    sandbox: Sandbox = OFF
    uids: confine.TeamUids | None = None  # each team's uid, when the sandbox runs teams apart
    hidden: tuple[Path, ...] = ()  # the server's home and data, masked in the sandbox


def launch_unit(
    unit: UnitSpec, allocation: Allocation, ctx: LaunchContext
) -> tuple[UnitRecord, Path]:
    """Prepare the unit directory and start its shim; returns the record (already on disk).

    Raises OSError when the directory, cgroups or shim cannot be set up."""
    slug = unit.key.slug()
    unit_dir = ctx.data_dir / "units" / slug
    # Launch files and logs are the server's alone: a unit's folder is 0700.
    unit_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(unit_dir, 0o700)
    for stale in (EXIT, WORKLOAD, LAUNCH):
        (unit_dir / stale).unlink(missing_ok=True)
    logfile.begin_run(unit_dir)
    volume_dirs = {}
    for volume in unit.volumes:
        directory = volume_dir(ctx.data_dir, unit.key.team, volume.name)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        volume_dirs[volume.name] = directory

    mechanism, dirs, memory_dir, rlimit_as = _limits(unit, ctx.plan, slug)
    command, env, workdir = _confined(unit, allocation, ctx, unit_dir, volume_dirs)
    spec = LaunchSpec(
        command=command,
        env=env,
        workdir=workdir,
        cpus=allocation.affinity,
        procs_files=cgroups.procs_files(dirs),
        cgroup_dirs=tuple(str(d) for d in dirs),
        mechanism=mechanism,
        memory_dir=memory_dir,
        rlimit_as_bytes=rlimit_as,
        log_max_bytes=ctx.log_max_bytes,
        sandboxed=ctx.sandbox.isolates,
    )
    write_atomic(unit_dir / LAUNCH, launch_to_json(spec))
    record = UnitRecord(
        key=unit.key,
        generation=unit.generation,
        started_at=ctx.started_at,
        # Written before the shim exists, so a crash right after spawning leaves a record
        # whose cgroup still lets the next runtime find and kill what was started.
        shim=ProcessId(0, 0),
        grace_period_s=unit.grace_period_s,
        port=allocation.port,
        cpu_set=allocation.cpu_set,
        gpu_indices=allocation.gpu_indices,
        mechanism=mechanism,
        cgroup_dirs=spec.cgroup_dirs,
        isolation=ctx.sandbox.describe(),
    )
    write_atomic(unit_dir / RECORD, record_to_json(record))
    shim_pid = (ctx.zygote.spawn(unit_dir) if ctx.zygote else None) or _spawn_shim(unit_dir)
    record = replace(record, shim=identify(shim_pid) or ProcessId(shim_pid, 0))
    write_atomic(unit_dir / RECORD, record_to_json(record))
    return record, unit_dir


def _confined(
    unit: UnitSpec,
    allocation: Allocation,
    ctx: LaunchContext,
    unit_dir: Path,
    volume_dirs: Mapping[str, Path],
) -> tuple[tuple[str, ...], dict[str, str], str | None]:
    """(argv, environment, working directory) of the workload: as asked when the
    sandbox is off, else wrapped in it with paths as the workload sees them."""
    env = build_env(os.environ, unit, allocation, volume_dirs)
    if not ctx.sandbox.isolates:
        return unit.command, env, unit.workdir
    confinement = confine.prepare(
        ctx.sandbox,
        unit_dir=unit_dir,
        team=unit.key.team,
        env=env,
        volume_dirs=volume_dirs,
        workdir=unit.workdir,
        gpus=len(allocation.gpu_indices),
        uids=ctx.uids or confine.TeamUids(ctx.data_dir),
        hidden=ctx.hidden,
    )
    command = wrap_command(ctx.sandbox, confinement, unit.command, top=os.listdir("/"))
    # bubblewrap changes into the working directory itself, as root, before dropping to
    # the team's uid: a workdir whose parents the team cannot traverse still works.
    return tuple(command), sandbox_env(env, confinement, team=unit.key.team), None


def _limits(
    unit: UnitSpec, plan: CgroupPlan | None, slug: str
) -> tuple[str, tuple[Path, ...], str | None, int]:
    """(mechanism, cgroup dirs, memory cgroup dir, RLIMIT_AS bytes) for one unit."""
    if plan is not None:
        try:
            dirs = cgroups.create_unit_cgroup(
                plan,
                slug,
                memory_bytes=unit.memory_bytes,
                cpu_quota_us=cfs_quota_us(unit.cpu_millis),
            )
            return plan.mechanism, dirs, str(plan.memory_dir(slug)), 0
        except OSError:
            cgroups.remove_unit_cgroup(plan.unit_dirs(slug))
    if unit.memory_bytes > 0:
        return "rlimit", (), None, unit.memory_bytes
    return "none", (), None, 0


def shim_env() -> dict[str, str]:
    """The environment a shim (or the zygote) starts in: the server's, able to import us."""
    # The shim must import this package even when the server runs from a source tree.
    source_root = str(Path(__file__).resolve().parents[4])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    return env


def _spawn_shim(unit_dir: Path) -> int:
    env = shim_env()
    shim_log = str(unit_dir / SHIM_LOG)
    return os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", SHIM_MODULE, str(unit_dir)],
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, shim_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        # A session of its own: the shim survives the server, and signals sent to the
        # server's process group (Ctrl-C) do not reach workloads.
        setsid=True,
    )
