"""Running probes against replicas (HTTP, TCP, exec), each on its own period, with timeouts.

The prober holds observations, not decisions: the service reconciler reads its verdicts
(``health()``) and decides what to restart. Verdicts live in memory; after a restart of
the server every replica is probed afresh (unready until its readiness passes again).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from sapwood.server.clock import Clock
from sapwood.server.controller.plan.health import Health, ProbeState, initial, judge
from sapwood.server.controller.plan.kinds import policy_for
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.loop import Loop
from sapwood.server.units import UnitKey, UnitPhase, UnitState
from sapwood.specs.probes import Probe

log = logging.getLogger("sapwood.controller.probes")
PROBE_TICK_S = 0.25
Owner = tuple[str, str, str]  # (kind, team, name)


@dataclass(frozen=True)
class Target:
    """One running replica to probe."""

    key: UnitKey
    run: str
    port: int | None
    started_at_s: float  # on the clock's monotonic scale
    readiness: Probe | None
    liveness: Probe | None
    host: str = "127.0.0.1"  # a pod's IP on Kubernetes


@dataclass
class _Tracked:
    target: Target
    ready: ProbeState
    live: ProbeState
    next_ready_s: float
    next_live_s: float
    busy: set[str] = field(default_factory=set)


async def run_probe(probe: Probe, port: int | None, host: str = "127.0.0.1") -> tuple[bool, str]:
    """(passed, why not) for one attempt, never longer than the probe's timeout."""
    timeout = probe.timeout.total_seconds()
    try:
        return await asyncio.wait_for(_attempt(probe, port, host, timeout), timeout)
    except TimeoutError:
        return False, f"timed out after {timeout:g}s"
    except (OSError, httpx.HTTPError) as exc:
        return False, str(exc) or type(exc).__name__


async def _attempt(
    probe: Probe, port: int | None, host: str, http_timeout_s: float
) -> tuple[bool, str]:
    if probe.http is not None:
        target = probe.http.port or port
        url = f"http://{host}:{target}{probe.http.path}"
        async with httpx.AsyncClient(timeout=http_timeout_s) as client:
            response = await client.get(url)
        ok = 200 <= response.status_code < 400
        return ok, "" if ok else f"HTTP {response.status_code} from {probe.http.path}"
    if probe.tcp is not None:
        _, writer = await asyncio.open_connection(host, probe.tcp.port or port)
        writer.close()
        await writer.wait_closed()
        return True, ""
    assert probe.exec is not None
    env = {**os.environ, "PORT": str(port or "")}
    process = await asyncio.create_subprocess_exec(
        *probe.exec.command,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return code == 0, "" if code == 0 else f"command exited with {code}"


class Prober:
    """Probes every target on its own period; calls ``on_change`` when a verdict flips."""

    def __init__(self, clock: Clock, on_change: Callable[[], None]) -> None:
        self._clock = clock
        self._on_change = on_change
        self._tracked: dict[UnitKey, _Tracked] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def update(self, targets: list[Target]) -> None:
        """The replicas to probe now; others are dropped, a new run starts afresh."""
        wanted = {t.key: t for t in targets}
        for key in list(self._tracked):
            if key not in wanted or self._tracked[key].target.run != wanted[key].run:
                del self._tracked[key]
        for key, target in wanted.items():
            if key not in self._tracked:
                start = target.started_at_s
                ready_delay = (
                    target.readiness.initial_delay.total_seconds() if target.readiness else 0
                )
                live_delay = target.liveness.initial_delay.total_seconds() if target.liveness else 0
                self._tracked[key] = _Tracked(
                    target,
                    ready=initial(readiness=True),
                    live=initial(readiness=False),
                    next_ready_s=start + ready_delay,
                    next_live_s=start + live_delay,
                )

    def health(self) -> dict[UnitKey, Health]:
        out = {}
        for key, tracked in self._tracked.items():
            ready = tracked.ready.passing if tracked.target.readiness else True
            live = tracked.live.passing if tracked.target.liveness else True
            message = tracked.live.message if not live else tracked.ready.message
            out[key] = Health(ready=ready, live=live, message=message)
        return out

    def tick(self) -> None:
        """Starts every probe that is due; returns at once."""
        now = self._clock.monotonic()
        for tracked in list(self._tracked.values()):
            target = tracked.target
            if target.readiness and "ready" not in tracked.busy and now >= tracked.next_ready_s:
                tracked.next_ready_s = now + target.readiness.period.total_seconds()
                self._spawn(tracked, "ready", target.readiness)
            if target.liveness and "live" not in tracked.busy and now >= tracked.next_live_s:
                tracked.next_live_s = now + target.liveness.period.total_seconds()
                self._spawn(tracked, "live", target.liveness)

    def _spawn(self, tracked: _Tracked, which: str, probe: Probe) -> None:
        tracked.busy.add(which)
        task = asyncio.create_task(self._probe(tracked, which, probe))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe(self, tracked: _Tracked, which: str, probe: Probe) -> None:
        try:
            ok, message = await run_probe(probe, tracked.target.port, tracked.target.host)
        except Exception:  # a probe must never take the prober down
            log.exception("probe of %s failed unexpectedly", tracked.target.key)
            ok, message = False, "probe error"
        finally:
            tracked.busy.discard(which)
        before = tracked.ready.passing if which == "ready" else tracked.live.passing
        if which == "ready":
            tracked.ready = judge(tracked.ready, ok, probe, message)
            after = tracked.ready.passing
        else:
            tracked.live = judge(tracked.live, ok, probe, message)
            after = tracked.live.passing
        if before != after:
            self._on_change()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class ProbeLoop(Loop):
    """Starts due probes every quarter second, apart from the controller's rounds."""

    name = "prober"

    def __init__(self, prober: Prober, clock: Clock) -> None:
        super().__init__(clock=clock, interval_s=PROBE_TICK_S)
        self.prober = prober

    async def tick(self) -> float | None:
        self.prober.tick()
        return None

    async def on_stop(self) -> None:
        await self.prober.close()


def probe_targets(
    units: Mapping[Owner, Mapping[int, UnitState]],
    view_of: Callable[[Owner], ObjectView | None],
    *,
    mono: float,
    now: datetime,
) -> list[Target]:
    """The running replicas to probe: those of objects whose kind declares probes."""
    targets = []
    for owner, owned in units.items():
        view = view_of(owner)
        probes = policy_for(view.kind).probes(view) if view is not None else None
        if probes is None or not probes.any:
            continue
        for unit in owned.values():
            if unit.phase is UnitPhase.RUNNING:
                age = (now - unit.started_at).total_seconds()
                targets.append(
                    Target(
                        unit.key,
                        unit.started_at.isoformat(),
                        unit.port,
                        mono - age,
                        probes.readiness,
                        probes.liveness,
                        unit.host,
                    )
                )
    return targets
