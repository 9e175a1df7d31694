"""LocalRuntime: units are supervised processes on this machine.

The runtime keeps no state that matters in memory: every unit has a directory under
data_dir/units/ whose files (see records.py) let a new LocalRuntime, after a server
restart or crash, adopt the running units and learn how the others ended.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import IO

from sapwood.server.runtimes.base import (
    Capacity,
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitReason,
    UnitSpec,
    UnitState,
    UnitUsage,
)
from sapwood.server.runtimes.local import cgroups, placement, sandbox, supervise
from sapwood.server.runtimes.local.capacity import (
    GpuInventory,
    read_capacity,
    read_gpus,
    usable_cores,
)
from sapwood.server.runtimes.local.cgroups import CgroupPlan
from sapwood.server.runtimes.local.confine import TeamUids
from sapwood.server.runtimes.local.launch import (
    Allocation,
    LaunchContext,
    allocate,
    check_runnable,
    launch_unit,
    shim_env,
)
from sapwood.server.runtimes.local.logs import read_logs
from sapwood.server.runtimes.local.records import RecordError, with_stop_requested
from sapwood.server.runtimes.local.sandbox import Sandbox
from sapwood.server.runtimes.local.settings import LocalRuntimeSettings
from sapwood.server.runtimes.local.supervise import Supervised
from sapwood.server.runtimes.local.usage import UsageMeter
from sapwood.server.runtimes.local.zygote import Zygote

log = logging.getLogger(__name__)

POLL_S = 0.05
SHIM_EXIT_TIMEOUT_S = 5.0


class LocalRuntime:
    """Runs units as local processes, each under a shim; see docs/runtimes.md.

    State is loaded lazily on the first call. Only one LocalRuntime may use a data dir at a
    time (an flock on data_dir/runtime.lock, released by close() or by the process dying);
    a second one raises RuntimeTemporaryError.
    """

    name = "local"

    def __init__(self, settings: LocalRuntimeSettings) -> None:
        self._settings = settings
        self._data_dir = settings.data_dir
        self._units: dict[UnitKey, Supervised] = {}
        self._reserved: dict[UnitKey, Allocation] = {}
        self._key_locks: dict[UnitKey, asyncio.Lock] = {}
        self._load_lock = asyncio.Lock()
        self._loaded = False
        self._closed = False
        self._lock_file: IO[str] | None = None
        self._plan: CgroupPlan | None = None
        self._plan_chosen = False
        self._gpus = GpuInventory(0, ())
        self._cores: tuple[int, ...] = ()
        # Exclusive cores as last applied to shared units; None forces the first pass.
        self._exclusive_applied: frozenset[int] | None = None
        self._zygote = Zygote(shim_env()) if settings.use_zygote else None
        self._meter = UsageMeter()
        self._sandbox: Sandbox | None = None
        self._uids = TeamUids(self._data_dir)
        self._hidden = (self._data_dir, *settings.hidden)

    @property
    def sandbox(self) -> Sandbox:
        """How workloads are confined here (sandbox.py). The first access looks for
        bubblewrap and runs one confined probe (blocking, about 10 ms)."""
        if self._sandbox is None:
            self._sandbox = sandbox.detect(
                enabled=self._settings.isolation,
                is_root=os.geteuid() == 0,
                which=sandbox.system_which,
            )
        return self._sandbox

    @property
    def limits_mechanism(self) -> str:
        """How limits are enforced: "cgroup-v2", "cgroup-v1" or "rlimit" (for start-up logs).

        The first access probes cgroupfs (a few small reads and a mkdir)."""
        plan = self._cgroup_plan()
        return "rlimit" if plan is None else plan.mechanism

    def _cgroup_plan(self) -> CgroupPlan | None:
        if not self._plan_chosen and not self._settings.use_cgroups:
            self._plan_chosen = True
        if not self._plan_chosen:
            namespace = cgroups.namespace_for(self._data_dir)
            plans = cgroups.detect_plans(namespace)
            self._plan = next((p for p in plans if cgroups.prepare(p)), None)
            self._plan_chosen = True
        return self._plan

    async def capacity(self) -> Capacity:
        await self._ensure_loaded()
        return await asyncio.to_thread(
            read_capacity,
            reserve_cpu_millis=self._settings.reserve_cpu_millis,
            reserve_memory_bytes=self._settings.reserve_memory_bytes,
            gpus=self._gpus,
        )

    async def start(self, unit: UnitSpec) -> UnitState:
        """See Runtime.start. A missing command raises RuntimePermanentError(reason=
        "CommandNotFound") before anything is started; if the command vanishes between
        that check and exec, the unit is recorded EXITED with that reason and the same
        error is raised."""
        await self._ensure_loaded()
        async with self._lock_for(unit.key):
            existing = self._units.get(unit.key)
            if existing is not None:
                await asyncio.to_thread(supervise.refresh, existing, self._settings.clock)
                if existing.running:
                    return supervise.to_state(existing)
                # Its shim has reported but may still be exiting; let it finish first.
                await self._wait_shim_gone(existing)
            check_runnable(unit, hidden=self._hidden)
            self._check_tenancy(unit)
            allocation = self._allocate(unit)
            self._reserved[unit.key] = allocation
            ctx = LaunchContext(
                data_dir=self._data_dir,
                plan=self._cgroup_plan(),
                log_max_bytes=self._settings.log_max_bytes,
                started_at=self._settings.clock(),
                zygote=self._zygote,
                sandbox=self.sandbox,
                uids=self._uids,
                hidden=self._hidden,
            )
            try:
                record, unit_dir = await asyncio.to_thread(launch_unit, unit, allocation, ctx)
            except OSError as exc:
                raise RuntimeTemporaryError(f"cannot launch {unit.key.slug()}: {exc}") from exc
            finally:
                del self._reserved[unit.key]
            launched = Supervised(record, unit_dir)
            self._units[unit.key] = launched
            await self._await_workload(launched)
            await self._sync_shared_cores()
            state = supervise.to_state(launched)
            if state.reason == UnitReason.COMMAND_NOT_FOUND:
                raise RuntimePermanentError(
                    f"command not found: {unit.command[0]}", reason=UnitReason.COMMAND_NOT_FOUND
                )
            return state

    async def stop(self, key: UnitKey, *, grace_period_s: float | None = None) -> None:
        await self._ensure_loaded()
        async with self._lock_for(key):
            unit = self._units.get(key)
            if unit is None:
                return
            if await self._refresh(unit) or not unit.running:
                return
            grace = unit.record.grace_period_s if grace_period_s is None else grace_period_s
            unit.record = with_stop_requested(unit.record)
            await asyncio.to_thread(supervise.save_record, unit)
            await asyncio.to_thread(supervise.terminate, unit)
            if not await self._wait_exit(unit, grace):
                await asyncio.to_thread(supervise.kill_all, unit)
                if not await self._wait_exit(unit, SHIM_EXIT_TIMEOUT_S):
                    await asyncio.to_thread(supervise.kill_shim, unit)
                    await self._wait_exit(unit, SHIM_EXIT_TIMEOUT_S)
            # The shim kills leftovers before reporting; this makes "returns once gone" hold
            # even when it could not (it was killed itself).
            await asyncio.to_thread(supervise.kill_all, unit)
            await self._wait_shim_gone(unit)
        await self._sync_shared_cores()

    async def forget(self, key: UnitKey) -> None:
        await self._ensure_loaded()
        async with self._lock_for(key):
            unit = self._units.get(key)
            if unit is None:
                return
            await self._refresh(unit)
            if unit.running:
                raise RuntimeTemporaryError(f"{key.slug()} is still running; stop it first")
            await self._wait_shim_gone(unit)
            await asyncio.to_thread(supervise.discard, unit)
            del self._units[key]

    async def observe(self) -> list[UnitState]:
        await self._ensure_loaded()
        units = list(self._units.values())
        await asyncio.to_thread(lambda: [supervise.refresh(u, self._settings.clock) for u in units])
        await self._sync_shared_cores()
        return [supervise.to_state(u) for u in sorted(units, key=lambda u: u.record.key)]

    async def usage(self) -> dict[UnitKey, UnitUsage]:
        """See Runtime.usage: psutil over each running unit's processes, NVML for GPUs."""
        await self._ensure_loaded()
        units = [u for u in self._units.values() if u.running]

        def measure() -> dict[UnitKey, UnitUsage]:
            found = {u.record.key: (supervise.unit_pids(u), u.record.gpu_indices) for u in units}
            return self._meter.measure(found)

        return await asyncio.to_thread(measure)

    async def logs(
        self, key: UnitKey, *, follow: bool = False, previous: bool = False
    ) -> AsyncIterator[bytes]:
        unit_dir = self._data_dir / "units" / key.slug()
        async for chunk in read_logs(unit_dir, follow=follow, previous=previous):
            yield chunk

    async def close(self) -> None:
        """Releases the data-dir lock; workloads and their shims keep running."""
        self._closed = True
        if self._zygote is not None:
            await asyncio.to_thread(self._zygote.close)
        if self._plan is not None and not self._units:
            # Tidy the namespace cgroups only when no unit (running or recorded) needs them.
            await asyncio.to_thread(cgroups.remove_plan_parents, self._plan)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # Internals.

    def _lock_for(self, key: UnitKey) -> asyncio.Lock:
        return self._key_locks.setdefault(key, asyncio.Lock())

    async def _ensure_loaded(self) -> None:
        if self._closed:
            raise RuntimeTemporaryError("the local runtime is closed")
        if self._loaded:
            return
        async with self._load_lock:
            if not self._loaded:
                await asyncio.to_thread(self._load)
                self._loaded = True

    def _load(self) -> None:
        """Take the data-dir lock and adopt every recorded unit (blocking)."""
        units_dir = self._data_dir / "units"
        units_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for private in (self._data_dir, units_dir):
            os.chmod(private, 0o700)
        lock_file = open(self._data_dir / "runtime.lock", "w")  # noqa: SIM115 - held until close
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock_file.close()
            raise RuntimeTemporaryError(f"{self._data_dir} is used by another runtime") from exc
        self._lock_file = lock_file
        self._cgroup_plan()
        _ = self.sandbox  # detected here, in a thread: its probe runs a process
        self._gpus = read_gpus()
        self._cores = usable_cores()
        for unit_dir in sorted(units_dir.iterdir()):
            try:
                unit = supervise.load_unit(unit_dir)
            except (RecordError, OSError) as exc:
                log.warning("ignoring unit directory %s: %s", unit_dir, exc)
                continue
            if unit is not None:
                self._units[unit.record.key] = unit

    async def _refresh(self, unit: Supervised) -> bool:
        return await asyncio.to_thread(supervise.refresh, unit, self._settings.clock)

    async def _wait_exit(self, unit: Supervised, timeout_s: float) -> bool:
        """Poll until the unit has ended; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            await self._refresh(unit)
            if not unit.running or loop.time() >= deadline:
                return not unit.running
            await asyncio.sleep(POLL_S)

    async def _wait_shim_gone(self, unit: Supervised) -> None:
        """Give an ended unit's shim a moment to exit and reap it (it has written its
        report, so this is quick); a shim that lingers is SIGKILLed."""
        if await self._poll(lambda: supervise.reap_shim(unit), SHIM_EXIT_TIMEOUT_S):
            return
        await asyncio.to_thread(supervise.kill_shim, unit)
        if not await self._poll(lambda: supervise.reap_shim(unit), SHIM_EXIT_TIMEOUT_S):
            log.warning("shim of %s does not exit", unit.record.key.slug())

    async def _poll(self, check: Callable[[], bool], timeout_s: float) -> bool:
        """Run blocking `check` in a thread until it is true; False after the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await asyncio.to_thread(check):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(POLL_S / 2)
        return True

    async def _await_workload(self, unit: Supervised) -> None:
        """Wait for the shim to report the workload's pid (or its failure to start)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.start_timeout_s
        while unit.workload is None and unit.running:
            if loop.time() >= deadline:
                await asyncio.to_thread(supervise.kill_all, unit)
                await asyncio.to_thread(supervise.kill_shim, unit)
                await self._refresh(unit)
                raise RuntimeTemporaryError(f"{unit.record.key.slug()}: shim did not start")
            await asyncio.sleep(POLL_S / 2)
            await self._refresh(unit)

    def _check_tenancy(self, unit: UnitSpec) -> None:
        """Without isolation, one team's workloads run at a time (unless the server was
        told it has a single tenant): RuntimeTemporaryError names who holds the machine."""
        if self.sandbox.isolates or self._settings.single_tenant:
            return
        others = sandbox.other_teams(
            unit.key.team, [u.record.key.team for u in self._units.values() if u.running]
        )
        if others:
            raise RuntimeTemporaryError(
                f"this server cannot keep teams apart ({'; '.join(self.sandbox.missing)}), "
                f"so it runs one team's workloads at a time and team {others[0]}'s are "
                "running; an admin can start it with --single-tenant to allow this"
            )

    def _allocate(self, unit: UnitSpec) -> Allocation:
        """Cores, GPUs and port for a new unit; no await inside, so it cannot race."""
        held = [u.record for u in self._units.values() if u.running]
        return allocate(
            unit,
            cores=self._cores,
            gpu_count=self._gpus.count,
            held=[(r.cpu_set, r.gpu_indices, r.port) for r in held]
            + [(a.cpu_set, a.gpu_indices, a.port) for a in self._reserved.values()],
        )

    async def _sync_shared_cores(self) -> None:
        """Move shared units onto the cores no unit holds exclusively, when that changed."""
        running = [u for u in self._units.values() if u.running]
        taken = frozenset(c for u in running for c in u.record.cpu_set)
        if taken == self._exclusive_applied:
            return
        self._exclusive_applied = taken
        shared = placement.shared_cores(self._cores, taken)

        def apply() -> None:
            for unit in running:
                if not unit.record.cpu_set:
                    with suppress(OSError):
                        supervise.set_affinity(supervise.unit_pids(unit), shared)

        await asyncio.to_thread(apply)
