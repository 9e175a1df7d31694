"""A deposed leader that wakes up late cannot write: its term fences its writes.

Replica A leads, then stalls (its clock stands still, as a paused process's would), so it
never notices that it has lost the lease. B takes the lease in a new term. A's controller
then runs a round for a Job applied through A: it may plan, but its status writes and
workload tokens are refused, so the Job keeps the state B's term gave it and A starts
nothing.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from sapwood.server.app import create_app
from sapwood.server.controller.manager import ControllerManager
from sapwood.server.leader import CONTROLLER_LEASE, LeaderElector, current_holder, read_lease
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.server.store.leases import LeaseFence
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from sapwood.testing.waiting import eventually
from tests.support import Api, job

pytestmark = pytest.mark.anyio

LEASE_S = 15.0


async def test_a_deposed_leaders_late_writes_are_refused(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        home=tmp_path / "a",
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(leader_election=True, leader_lease_s=LEASE_S),
        gateway=GatewaySettings(enabled=False),
    )
    a_clock, a_runtime, tokens = FakeClock(), FakeRuntime(), list[str]()
    a = create_app(settings, clock=a_clock, runtime=a_runtime, on_bootstrap=tokens.append)
    async with a.router.lifespan_context(a):
        manager = a.state.sapwood.controller
        assert isinstance(manager, ControllerManager)  # A leads
        # B, another replica, sees A's lease, and a whole lease later (on B's clock) takes it.
        b_clock, fences = FakeClock(), list[LeaseFence]()

        async def elected(fence: LeaseFence) -> None:
            fences.append(fence)

        async def lost() -> None:
            return None

        b = LeaderElector(
            a.state.sapwood.sessions,
            b_clock,
            holder="b",
            lease_s=LEASE_S,
            on_elected=elected,
            on_lost=lost,
        )
        sessions = a.state.sapwood.sessions

        async def version() -> int:
            lease = await read_lease(sessions, CONTROLLER_LEASE)
            return 0 if lease is None else lease.version

        # A's loop renews once as it starts; then A stands still.
        await eventually(version, lambda seen: seen >= 2, what="A's first renewal")
        assert await b.step() is False
        b_clock.advance(LEASE_S)
        assert await b.step() is True
        assert await current_holder(sessions, CONTROLLER_LEASE) == "b"

        api = Api(a, tokens[0])
        try:
            planned = manager.planned
            await api.admin.apply([job("late", command=["python", "-c", "print('hi')"])])
            with anyio.fail_after(10):  # A's controller, woken by the apply, plans the Job
                while manager.planned == planned:  # noqa: ASYNC110 - polled state
                    await anyio.sleep(0.01)
                await manager.wait_ticks(manager.begun)  # and ends that round
            stored = await api.admin.get("job", "late")
            assert stored.status == {"phase": "Pending"}  # as applied: nothing A planned
            assert a_runtime.started == []  # no token issued, so nothing started
            assert "is no longer held" in caplog.text
            assert a.state.sapwood.controller is manager  # A still believes it leads
        finally:
            await api.admin.aclose()
