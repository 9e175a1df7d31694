"""Acting on the runtime, with no session open: starts (gated, their tokens stored
first), stops in the background (a grace period must not hold up a round), forgets; and
observing it, with the starts that failed for good counted as exits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sapwood.schemas.status import Reason
from sapwood.server.clock import Clock
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.server.controller.tokens import WorkloadTokens
from sapwood.server.runtimes.base import (
    Runtime,
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitSpec,
    UnitState,
)

log = logging.getLogger("sapwood.controller")


class Actor:
    def __init__(
        self,
        runtime: Runtime,
        clock: Clock,
        tokens: WorkloadTokens,
        *,
        start_concurrency: int,
        wake: Callable[[], None],
    ) -> None:
        self._runtime = runtime
        self._clock = clock
        self._tokens = tokens
        self._start_concurrency = start_concurrency
        self._wake = wake  # asks the controller for a round: a stop ended, a start failed
        self._stopping: dict[UnitKey, asyncio.Task[None]] = {}
        self._failed_starts: dict[UnitKey, UnitState] = {}

    async def close(self) -> None:
        """Leaves workloads running: only this server's pending stops are dropped."""
        for task in self._stopping.values():
            task.cancel()
        await asyncio.gather(*self._stopping.values(), return_exceptions=True)
        await self._runtime.close()

    async def observe(self) -> list[UnitState]:
        units = {u.key: u for u in await self._runtime.observe()}
        for key, failure in list(self._failed_starts.items()):
            if key in units:
                del self._failed_starts[key]
            else:
                units[key] = failure
        return list(units.values())

    async def act(self, results: list[tuple[ObjectView, Plan]], orphans: list[UnitState]) -> None:
        for unit in orphans:
            log.info("stopping %s: its object is gone", unit.key.slug())
            if unit.phase is UnitPhase.RUNNING:
                self._stop_in_background(unit.key, None)
            else:
                await self._forget(unit.key)
        gate = asyncio.Semaphore(self._start_concurrency)
        starting = [(view, plan) for view, plan in results if plan.starts]
        try:
            await self._tokens.ensure([view for view, _ in starting], run_begins=True)
        except Exception:  # tokens could not be stored: nothing starts this round
            log.exception("cannot issue workload tokens; starts wait for the next round")
            for _, plan in starting:
                plan.starts = []
        starts = []
        for view, plan in results:
            grace_s = view.obj.spec.termination_grace_period.total_seconds()
            for key in plan.stops:
                self._stop_in_background(key, grace_s)
            for key in plan.forgets:
                await self._forget(key)
            starts += [self._start(view, plan, spec, gate) for spec in plan.starts]
        await asyncio.gather(*starts)

    async def _start(
        self, view: ObjectView, plan: Plan, unit: UnitSpec, gate: asyncio.Semaphore
    ) -> None:
        async with gate:
            try:
                state = await self._runtime.start(unit)
            except RuntimePermanentError as exc:
                now = self._clock.now()
                log.warning("cannot start %s: %s", unit.key.slug(), exc)
                self._failed_starts[unit.key] = UnitState(
                    unit.key,
                    UnitPhase.EXITED,
                    None,
                    now,
                    unit.generation,
                    None,
                    exit_code=127,
                    reason=exc.reason,
                    finished_at=now,
                    message=str(exc),  # what is missing and where it was looked for
                )
                self._wake()  # the next round accounts for the failure like any exit
                return
            except RuntimeTemporaryError as exc:
                # Retried next round; what holds it up (a full quota, a namespace's Pod
                # Security level, a missing grant: the cluster's words) is shown meanwhile.
                message = f"replica {unit.key.replica}: {exc}"
                plan.event(Reason.START_DELAYED, message, warning=True)
                status = dict(plan.status if plan.status is not None else view.status)
                plan.status = {**status, "reason": Reason.START_DELAYED.value, "message": message}
                return
        port = f", port {state.port}" if state.port else ""
        plan.event("Started", f"replica {unit.key.replica} started (pid {state.pid}{port})")

    def _stop_in_background(self, key: UnitKey, grace_s: float | None) -> None:
        # A stop waits out the grace period; the round must not.
        if key in self._stopping:
            return

        async def stop() -> None:
            try:
                await self._runtime.stop(key, grace_period_s=grace_s)
            except Exception:
                log.exception("stopping %s failed", key.slug())
            finally:
                self._stopping.pop(key, None)
                self._wake()

        self._stopping[key] = asyncio.create_task(stop())

    async def _forget(self, key: UnitKey) -> None:
        if self._failed_starts.pop(key, None) is not None:
            return
        try:
            await self._runtime.forget(key)
        except RuntimeTemporaryError:
            pass  # still running after all: the next round sees it
