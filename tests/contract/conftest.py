"""One harness per runtime, so the contract suite reads the same for all of them.

A harness builds unit specs the runtime can run and ends units on demand: the fake is told
to, real runtimes run a command that waits for a trigger file and then exits with the code.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sapwood.server.runtimes.base import Runtime, UnitKey, UnitSpec, UnitState
from sapwood.server.runtimes.kubernetes.manifests import RUN_LABEL, unit_selector
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.server.runtimes.local.runtime import LocalRuntime
from sapwood.server.runtimes.local.settings import LocalRuntimeSettings
from sapwood.testing.fake_runtime import FakeRuntime
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.kube_kubelet import KubeletSimulator
from tests.conftest import require_sandbox
from tests.integration.runtimes.kubernetes.conftest import SERVER, load_install
from tests.support_runtimes import observed

MISSING_COMMAND = "sapwood-no-such-command"

WAIT_THEN_EXIT = """
import os, sys, time
trigger, code = sys.argv[1], int(sys.argv[2])
while not os.path.exists(trigger):
    time.sleep(0.02)
sys.exit(code)
"""


Finisher = Callable[[UnitKey, int], Awaitable[None]]


class Harness:
    """`finisher` ends a unit where a trigger file cannot (pods: the kubelet simulator);
    `has_pids` is False where units have no host pid (Kubernetes)."""

    def __init__(
        self,
        runtime: Runtime,
        workdir: Path,
        *,
        finisher: Finisher | None = None,
        has_pids: bool = True,
        in_workdir: bool = False,
    ) -> None:
        self.runtime = runtime
        self._workdir = workdir
        # Confined units see the trigger only in their workdir (their /tmp is private).
        self._in_workdir = in_workdir
        self._codes: dict[UnitKey, int] = {}
        self._finisher = finisher
        self.has_pids = has_pids
        # False where a missing command shows only once the unit runs (a real cluster)
        self.checks_command_at_start = True
        self.missing_command = MISSING_COMMAND

    def spec(self, key: UnitKey, *, exit_code: int = 0, **fields: object) -> UnitSpec:
        """A unit that runs until `finish(key)`, then exits with `exit_code`."""
        self._codes[key] = exit_code
        trigger = self._workdir / f"{key.slug()}.trigger"
        if self._in_workdir:
            fields.setdefault("workdir", str(self._workdir))
            trigger = Path(trigger.name)
        command = (sys.executable, "-c", WAIT_THEN_EXIT, str(trigger), str(exit_code))
        return UnitSpec(key=key, command=command, env={}, grace_period_s=5.0, **fields)  # type: ignore[arg-type]

    async def finish(self, key: UnitKey) -> None:
        if self._finisher is not None:
            await self._finisher(key, self._codes[key])
        elif isinstance(self.runtime, FakeRuntime):
            self.runtime.exit(key, self._codes[key])
        else:
            (self._workdir / f"{key.slug()}.trigger").touch()

    async def wait_for(
        self, key: UnitKey, predicate: Callable[[UnitState], bool], timeout_s: float = 10.0
    ) -> UnitState:
        """Poll observe() until the unit's state satisfies `predicate` (fails after timeout)."""
        return await observed(self.runtime.observe, key, predicate, timeout_s=timeout_s)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["fake", "local", "local-sandboxed", "kubernetes"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    if request.param == "kubernetes":
        async with kubernetes_harness(tmp_path, workdir) as made:
            yield made
            await clean_up(made.runtime)
        return
    runtime: Runtime
    if request.param == "fake":
        runtime = FakeRuntime(missing_commands=frozenset({MISSING_COMMAND}))
    else:
        # The same contract holds with workloads confined (bubblewrap, a uid per team).
        sandboxed = request.param == "local-sandboxed"
        if sandboxed:
            require_sandbox()
        settings = LocalRuntimeSettings(data_dir=tmp_path / "data", isolation=sandboxed)
        runtime = LocalRuntime(settings)
        yield Harness(runtime, workdir, in_workdir=sandboxed)
        await clean_up(runtime)
        return
    yield Harness(runtime, workdir)
    await clean_up(runtime)


async def clean_up(runtime: Runtime) -> None:
    for state in await runtime.observe():
        await runtime.stop(state.key, grace_period_s=1.0)
        await runtime.forget(state.key)
    await runtime.close()


@asynccontextmanager
async def kubernetes_harness(tmp_path: Path, workdir: Path) -> AsyncIterator[Harness]:
    """KubernetesRuntime over the API double, authenticated as the install's ServiceAccount;
    its kubelet simulator runs pods at once, fails MISSING_COMMAND as containerd does, and
    the harness ends pods through it."""
    double = KubeApiDouble(kubelet=KubeletSimulator(missing_commands=frozenset({MISSING_COMMAND})))
    with double.running():
        double.add_node("node-a", cpu="4", memory="16Gi")
        # The runtime is the install's ServiceAccount: the contract holds under its RBAC.
        load_install(double)
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig", service_account=SERVER)
        settings = KubernetesRuntimeSettings(kubeconfig=kubeconfig, stop_poll_s=0.02)
        runtime = KubernetesRuntime(settings)

        async def finish(key: UnitKey, code: int) -> None:
            selector = f"{unit_selector(key)},{RUN_LABEL}=current"
            (pod,) = double.pods(runtime.namespace(key.team), selector)
            double.finish_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], code)

        try:
            yield Harness(runtime, workdir, finisher=finish, has_pids=False)
        finally:
            await runtime.close()
