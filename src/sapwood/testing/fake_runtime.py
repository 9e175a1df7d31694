"""FakeRuntime: an in-memory Runtime for controller tests. No processes are started.

Units stay RUNNING until the test ends them with `exit()` or `crash()`, or the code under
test calls `stop()`. What the code under test did is visible in `started`, `stopped` and
`forgotten`. It passes the same contract suite as the real runtimes
(tests/contract/), so behaviour a controller relies on holds for both.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime

from sapwood.server.runtimes.base import (
    Capacity,
    RuntimeFailure,
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
    UnitState,
    UnitUsage,
)

DEFAULT_CAPACITY = Capacity(cpu_millis=8000, memory_bytes=32 * 1024**3, gpus=0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FakeRuntime:
    """In-memory Runtime. Test helpers are the public methods below the protocol ones.

    It does not enforce capacity (admission is the controller's job) and assigns made-up
    pids and ports. Commands listed in `missing_commands` behave as not installed.
    """

    name = "fake"

    def __init__(
        self,
        capacity: Capacity = DEFAULT_CAPACITY,
        *,
        clock: Callable[[], datetime] = _utc_now,
        missing_commands: frozenset[str] = frozenset(),
    ) -> None:
        self._capacity = capacity
        self._clock = clock
        self.missing_commands: set[str] = set(missing_commands)
        self.started: list[UnitSpec] = []  # every unit actually started, in order
        self.stopped: list[UnitKey] = []  # every key stop() ended (not no-op calls)
        self.forgotten: list[UnitKey] = []
        # Every start, stop and forget above, in the order they happened.
        self.actions: list[tuple[str, UnitKey]] = []
        self._states: dict[UnitKey, UnitState] = {}
        self._logs: dict[UnitKey, list[bytes]] = {}
        self._previous_logs: dict[UnitKey, list[bytes]] = {}
        self._log_changed = asyncio.Event()
        self._pids = itertools.count(1000)
        self._ports = itertools.count(20000)
        self._start_failures: list[RuntimeFailure] = []
        self._usage: dict[UnitKey, UnitUsage] = {}
        self._closed = False

    # The Runtime protocol.

    async def capacity(self) -> Capacity:
        self._check_open()
        return self._capacity

    async def start(self, unit: UnitSpec) -> UnitState:
        self._check_open()
        current = self._states.get(unit.key)
        if current is not None and current.phase is UnitPhase.RUNNING:
            return current
        if self._start_failures:
            raise self._start_failures.pop(0)
        if not unit.command:
            raise RuntimePermanentError("empty command", reason=UnitReason.ERROR)
        if unit.command[0] in self.missing_commands:
            raise RuntimePermanentError(
                f"command not found: {unit.command[0]}", reason=UnitReason.COMMAND_NOT_FOUND
            )
        if unit.key in self._logs:
            self._previous_logs[unit.key] = self._logs.pop(unit.key)
        self._logs[unit.key] = []
        state = UnitState(
            key=unit.key,
            phase=UnitPhase.RUNNING,
            pid=next(self._pids),
            started_at=self._clock(),
            generation=unit.generation,
            port=next(self._ports) if unit.wants_port else None,
            limits_enforced_by="none",
        )
        self._states[unit.key] = state
        self.started.append(unit)
        self.actions.append(("start", unit.key))
        self._notify_logs()
        return state

    async def stop(self, key: UnitKey, *, grace_period_s: float | None = None) -> None:
        self._check_open()
        state = self._states.get(key)
        if state is None or state.phase is UnitPhase.EXITED:
            return
        self.stopped.append(key)
        self.actions.append(("stop", key))
        self._end(key, exit_code=143, reason=UnitReason.STOPPED)

    async def forget(self, key: UnitKey) -> None:
        self._check_open()
        state = self._states.get(key)
        if state is None:
            return
        if state.phase is UnitPhase.RUNNING:
            raise RuntimeTemporaryError(f"{key.slug()} is still running; stop it first")
        del self._states[key]
        self.forgotten.append(key)
        self.actions.append(("forget", key))

    async def observe(self) -> list[UnitState]:
        self._check_open()
        return [self._states[key] for key in sorted(self._states)]

    async def usage(self) -> dict[UnitKey, UnitUsage]:
        """Running units report what `set_usage` gave them; idle (all zero) otherwise."""
        self._check_open()
        return {
            key: self._usage.get(key, UnitUsage(cpu_percent=0.0, memory_bytes=0))
            for key, state in sorted(self._states.items())
            if state.phase is UnitPhase.RUNNING
        }

    async def logs(
        self, key: UnitKey, *, follow: bool = False, previous: bool = False
    ) -> AsyncIterator[bytes]:
        if previous:
            for chunk in list(self._previous_logs.get(key, [])):
                yield chunk
            return
        sent = 0
        # Restarts replace the list object; `lines` tracks the one being followed.
        lines = self._logs.get(key)
        while True:
            current = self._logs.get(key)
            if current is not lines:
                lines, sent = current, 0
            while lines is not None and sent < len(lines):
                sent += 1
                yield lines[sent - 1]
            if not follow:
                return
            self._log_changed.clear()
            await self._log_changed.wait()

    async def close(self) -> None:
        """Further calls raise RuntimeTemporaryError; units stay as they are."""
        self._closed = True

    # Test helpers.

    def exit(self, key: UnitKey, code: int = 0, *, reason: str | None = None) -> None:
        """End a running unit as if its process exited with `code`."""
        default = UnitReason.COMPLETED if code == 0 else UnitReason.ERROR
        self._end(key, exit_code=code, reason=reason or default)

    def crash(self, key: UnitKey, *, reason: str = UnitReason.KILLED, exit_code: int = 137) -> None:
        """End a running unit abnormally (killed by a signal, or reason="OOMKilled")."""
        self._end(key, exit_code=exit_code, reason=reason)

    def set_capacity(self, capacity: Capacity) -> None:
        self._capacity = capacity

    def fail_next_start(self, error: RuntimeFailure) -> None:
        """The next start() of a unit not already running raises `error` (queued in order)."""
        self._start_failures.append(error)

    def set_usage(
        self,
        key: UnitKey,
        *,
        cpu_percent: float = 0.0,
        memory_bytes: int = 0,
        gpu_percent: float | None = None,
        gpu_memory_bytes: int | None = None,
    ) -> None:
        """What usage() reports for `key` while it runs (kept across restarts)."""
        self._usage[key] = UnitUsage(cpu_percent, memory_bytes, gpu_percent, gpu_memory_bytes)

    def write_log(self, key: UnitKey, data: bytes) -> None:
        """Append output to the current run's log of a started unit."""
        self._logs.setdefault(key, []).append(data)
        self._notify_logs()

    def state(self, key: UnitKey) -> UnitState | None:
        """The unit's current state, None when unknown or forgotten."""
        return self._states.get(key)

    # Internals.

    def _end(self, key: UnitKey, *, exit_code: int, reason: str) -> None:
        state = self._states.get(key)
        if state is None or state.phase is not UnitPhase.RUNNING:
            raise KeyError(f"{key} is not running")
        self._states[key] = replace(
            state,
            phase=UnitPhase.EXITED,
            exit_code=exit_code,
            reason=str(reason),
            finished_at=self._clock(),
        )

    def _notify_logs(self) -> None:
        self._log_changed.set()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeTemporaryError("the fake runtime is closed")
