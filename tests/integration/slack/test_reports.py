"""The Slack reports against a real app: a linked user sees in Slack what the API shows
them (their teams only; another team's is "not found"), and the status and log reports
read the runtime through the controller on a FakeRuntime."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from sapwood.schemas import Phase, Role
from sapwood.server.app import create_app
from sapwood.server.auth.callers import Caller
from sapwood.server.controller.manager import ControllerManager
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.server.slack import logs, reports
from sapwood.server.slack.commands import parse
from sapwood.server.slack.message import Message
from sapwood.server.state import AppState
from sapwood.server.units import Capacity, UnitKey
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from tests.support import Api, job, workspace

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Caller(user="alice", admin=False, roles={"research": Role.MEMBER, "empty": Role.VIEWER})


def text_of(message: Message) -> str:
    out = [message.text]
    for block in message.blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", [])]
    return "\n".join(out)


def state_of(api: Api) -> AppState:
    app: FastAPI = api.transport.app  # type: ignore[assignment]
    state: AppState = app.state.sapwood
    return state


async def ask(api: Api, caller: Caller, text: str) -> Message:
    return await reports.answer(state_of(api), caller, parse(text), now=NOW)


@pytest.fixture
async def world(api: Api) -> Api:
    """research (alice a member) and ops (not hers), each with a workspace and a job;
    empty, where alice is a viewer, holds nothing."""
    admin = api.admin
    for team in ("research", "ops", "empty"):
        await admin.create_team(team)
    await admin.create_user("alice", teams={"research": "member", "empty": "viewer"})
    await admin.apply(
        [
            workspace("nb", team="research", resources={"cpu": "2", "memory": "4Gi"}),
            workspace("secret-nb", team="ops"),
            job("train", team="research"),
            job("ops-job", team="ops"),
        ]
    )
    return api


# controller off: lists through the services


async def test_env_list_shows_what_the_api_shows_the_user(world: Api) -> None:
    token = (await world.admin.create_token(user="alice")).token
    seen_by_api = {o.metadata.name for o in await world.client(token).list("Workspace")}
    text = text_of(await ask(world, ALICE, "env list"))
    assert seen_by_api == {"nb"}
    assert "*nb* · team research · Pending" in text
    assert "cpu 2 · memory 4Gi" in text
    assert "secret-nb" not in text


async def test_another_teams_report_is_not_found_as_the_api_says(world: Api) -> None:
    message = await ask(world, ALICE, "env list --team ops")
    assert message.text == "workspaces not found in team ops"
    assert "secret-nb" not in text_of(message)
    assert (await ask(world, ALICE, "jobs --team ops")).text == "jobs not found in team ops"
    assert (await ask(world, ALICE, "queue --team ops")).text == "the queue not found in team ops"
    assert (await ask(world, ALICE, "status --team ops")).text == "team ops not found"


async def test_an_empty_team_says_so(world: Api) -> None:
    message = await ask(world, ALICE, "env list --team empty")
    assert message.text == "No environments in team empty. Create one with `/sapwood env create`."
    assert (await ask(world, ALICE, "jobs --team empty")).text == "No jobs in team empty."


async def test_jobs_and_queue_show_the_users_teams(world: Api) -> None:
    jobs = text_of(await ask(world, ALICE, "jobs"))
    assert "*train* · team research · Pending" in jobs
    assert "ops-job" not in jobs
    queue = text_of(await ask(world, ALICE, "queue"))
    assert "*job/train*" in queue
    assert "*workspace/nb*" in queue
    assert "ops" not in queue
    assert "not yet considered by the scheduler" in queue


async def test_an_admin_sees_every_team(world: Api) -> None:
    admin = Caller(user="admin", admin=True)
    text = text_of(await ask(world, admin, "env list"))
    assert "*nb*" in text
    assert "*secret-nb*" in text


async def test_status_without_a_controller_says_capacity_is_unknown(world: Api) -> None:
    message = await ask(world, ALICE, "status")
    assert "this server runs no controller, so capacity is unknown" in message.text


async def test_logs_without_a_controller_say_why(world: Api) -> None:
    message = await logs.log_tail(state_of(world), ALICE, "Job", "train", team=None)
    assert message.text == "this server runs no controller, so there are no logs"
    hidden = await logs.log_tail(state_of(world), ALICE, "Job", "ops-job", team=None)
    assert hidden.text.startswith("job/ops-job not found")


async def test_help(world: Api) -> None:
    assert "`/sapwood env create`" in text_of(await ask(world, ALICE, "help"))


# controller on a FakeRuntime: status and logs


@pytest.fixture
async def running(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Api, FakeRuntime]]:
    """A server whose controller runs on a FakeRuntime: alice's job ``train`` and ops'
    ``ops-job`` are Running, alice's ``huge`` waits."""
    clock = FakeClock()
    fake = FakeRuntime(
        Capacity(cpu_millis=8000, memory_bytes=16 * 1024**3, gpus=2, gpu_models=("L4",)),
        clock=clock.now,
    )
    settings = Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(enabled=True),
        gateway=GatewaySettings(enabled=False),
    )
    tokens: list[str] = []
    app = create_app(settings, clock=clock, runtime=fake, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        await api.admin.create_team("research")
        await api.admin.create_team("ops")
        await api.admin.apply(
            [job("train", team="research", resources={"cpu": "1500m", "memory": "1Gi"})]
        )
        await api.admin.apply([job("ops-job", team="ops", resources={"cpu": "2"})])
        # Too big to admit: waits, holding nothing.
        await api.admin.apply([job("huge", team="research", resources={"cpu": "100"})])
        manager = state_of(api).controller
        assert isinstance(manager, ControllerManager)

        async def both_running() -> bool:
            phases = [(await api.admin.get("Job", n)).phase for n in ("train", "ops-job")]
            return phases == [Phase.RUNNING, Phase.RUNNING]

        await until(manager, both_running)
        yield api, fake
        await api.admin.aclose()


async def until(manager: ControllerManager, done: Callable[[], Awaitable[bool]]) -> None:
    """Runs controller rounds until ``done()`` holds (at most 10)."""
    for _ in range(10):
        if await done():
            return
        target = manager.begun + 1
        manager.wake()
        await manager.wait_ticks(target)
    assert await done(), "not reached within 10 controller rounds"


async def test_status_shows_capacity_and_what_the_users_teams_hold(
    running: tuple[Api, FakeRuntime],
) -> None:
    api, _ = running
    text = text_of(await ask(api, ALICE, "status"))
    assert "*fake* · 1 workload holding resources" in text
    assert "cpu: 1.5 cores allocated of 8 cores (19%)" in text
    assert "memory: 1.0 GiB allocated of 16.0 GiB (6%)" in text
    assert "gpu: 0 GPU allocated of 2 GPU (0%)" in text
    assert "GPU models: L4" in text
    admin = text_of(await ask(api, Caller(user="admin", admin=True), "status"))
    assert "cpu: 3.5 cores allocated of 8 cores" in admin


async def test_status_when_the_runtime_does_not_answer(running: tuple[Api, FakeRuntime]) -> None:
    api, fake = running
    await fake.close()  # every call now fails
    message = await ask(api, ALICE, "status")
    assert "did not report" in message.text


async def test_log_tail_shows_the_last_lines(running: tuple[Api, FakeRuntime]) -> None:
    api, fake = running
    for i in range(100):
        fake.write_log(UnitKey("Job", "research", "train", 0), f"step {i}\n".encode())
    message = await logs.log_tail(state_of(api), ALICE, "Job", "train", team=None, lines=5)
    assert message.file is None
    assert "```\nstep 95\nstep 96\nstep 97\nstep 98\nstep 99\n```" in text_of(message)
    via_command = await ask(api, ALICE, "logs job train --team research")
    assert "step 99" in text_of(via_command)


async def test_a_long_log_comes_as_a_file(running: tuple[Api, FakeRuntime]) -> None:
    api, fake = running
    key = UnitKey("Job", "research", "train", 0)
    line = b"x" * 1023 + b"\n"
    for _ in range(2048):  # 2 MiB
        fake.write_log(key, line)
    fake.write_log(key, b"the end " + b"y" * 4000 + b"\n")
    message = await logs.log_tail(state_of(api), ALICE, "Job", "train", team="research")
    assert message.file is not None
    assert message.file.filename == "train.log"
    assert len(message.file.content) == logs.FILE_BYTES
    assert message.file.content.endswith(b"y\n")
    assert "attached" in message.text


async def test_another_teams_log_is_not_found(running: tuple[Api, FakeRuntime]) -> None:
    api, fake = running
    fake.write_log(UnitKey("Job", "ops", "ops-job", 0), b"secret\n")
    message = await logs.log_tail(state_of(api), ALICE, "Job", "ops-job", team="ops")
    assert message.text == "job/ops-job not found in team ops"
    assert "secret" not in text_of(message)


async def test_a_log_read_keeps_only_its_end() -> None:
    async def three_mib() -> AsyncIterator[bytes]:
        for i in range(3 * 1024):
            yield bytes([65 + i % 26]) * 1024

    tail, cut = await logs.read_tail(three_mib(), limit=1024 * 1024, timeout_s=10)
    assert cut
    assert len(tail) == 1024 * 1024
    assert tail.endswith(bytes([65 + (3 * 1024 - 1) % 26]) * 1024)


async def test_a_log_the_runtime_fails_to_read_says_so(running: tuple[Api, FakeRuntime]) -> None:
    api, _ = running

    class BrokenReads:
        runtime_name = "broken"

        async def capacity(self) -> Capacity:
            raise RuntimeError("no")

        async def logs(  # an async generator, as runtimes write them
            self, kind: str, team: str, name: str, **_: object
        ) -> AsyncIterator[bytes]:
            yield b"first line\n"
            raise ConnectionError("the node went away")

    broken = dataclasses.replace(state_of(api), reads=BrokenReads())
    message = await logs.log_tail(broken, ALICE, "Job", "train", team=None)
    assert message.text == (
        "Could not read the log of job/train in team research: the node went away"
    )
