"""Jobs, services and workspaces as real supervised processes on this machine."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from sapwood.client import AsyncClient
from sapwood.schemas import Object
from sapwood.testing.waiting import eventually
from tests.support import Api, job, service, workspace

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
PY = sys.executable


def _phase(client: AsyncClient, kind: str, name: str):  # type: ignore[no-untyped-def]
    async def probe() -> Object:
        return await client.get(kind, name)

    return probe


async def _reasons(client: AsyncClient, kind: str, name: str) -> list[str]:
    return [e.reason for e in await client.events(kind, name)]


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder the test and a confined workload (its team's uid, its own /tmp) both
    reach: the Job's workdir, writable by anyone."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    return folder


async def test_job_runs_to_success_with_its_environment(live_api: Api, shared: Path) -> None:
    out = shared / "env.txt"
    code = (
        "import os,sys; keys=['SAPWOOD_KIND','SAPWOOD_TEAM','SAPWOOD_NAME','SAPWOOD_REPLICA'];"
        "open('env.txt','w').write(' '.join(os.environ[k] for k in keys));"
        "print('trained', flush=True)"
    )
    await live_api.admin.apply([job("train", command=[PY, "-c", code], workdir=str(shared))])
    done = await eventually(
        _phase(live_api.admin, "job", "train"), lambda o: o.phase in ("Succeeded", "Failed")
    )
    assert done.phase == "Succeeded"
    assert out.read_text() == "Job default train 0"
    assert await _reasons(live_api.admin, "job", "train") == [
        "Created",
        "Admitted",
        "Started",
        "Completed",
        "Succeeded",
    ]
    logs = b"".join([c async for c in live_api.admin.logs("job", "train")])
    assert b"trained" in logs


async def test_failing_job_retries_with_backoff_then_fails(live_api: Api) -> None:
    spec = {"command": [PY, "-c", "raise SystemExit(3)"], "retries": 2}
    spec["backoff"] = {"initial": "100ms", "max": "200ms"}
    await live_api.admin.apply([job("flaky", **spec)])
    done = await eventually(
        _phase(live_api.admin, "job", "flaky"), lambda o: o.phase in ("Succeeded", "Failed")
    )
    assert done.phase == "Failed"
    assert done.status["reason"] == "BackoffLimitExceeded"
    assert done.status["failures"] == 3
    assert done.status["replicas"][0]["lastExit"]["code"] == 3
    reasons = await _reasons(live_api.admin, "job", "flaky")
    assert reasons.count("Started") == 3
    assert reasons.count("BackOff") == 2


async def test_missing_command_fails_without_a_restart_loop(live_api: Api) -> None:
    await live_api.admin.apply([job("typo", command=["no-such-program-anywhere"])])
    done = await eventually(
        _phase(live_api.admin, "job", "typo"), lambda o: o.phase in ("Succeeded", "Failed")
    )
    assert done.status["reason"] == "CommandNotFound"
    # It names the command and the PATH folders searched, so a typo is found at once.
    assert "command not found: no-such-program-anywhere (searched PATH: " in done.status["message"]
    assert "BackOff" not in await _reasons(live_api.admin, "job", "typo")


async def test_service_replica_crash_restarts_only_that_replica(live_api: Api) -> None:
    command = f'exec {PY} -m http.server --bind 127.0.0.1 "$PORT"'
    spec = {
        "command": command,
        "replicas": 2,
        "readiness": {"http": {"path": "/"}, "period": "200ms"},
        "backoff": {"initial": "100ms", "max": "1s"},
    }
    await live_api.admin.apply([service("web", **spec)])
    ready = await eventually(
        _phase(live_api.admin, "service", "web"),
        lambda o: o.status.get("readyReplicas") == 2,
        what="two ready replicas",
    )
    pids = {r["index"]: r["pid"] for r in ready.status["replicas"]}
    os.kill(pids[1], signal.SIGKILL)

    def restarted(o: Object) -> bool:
        replicas = {r["index"]: r for r in o.status["replicas"]}
        return replicas[1].get("restarts") == 1 and o.status.get("readyReplicas") == 2

    after = await eventually(
        _phase(live_api.admin, "service", "web"), restarted, what="replica 1 back"
    )
    replicas = {r["index"]: r for r in after.status["replicas"]}
    assert replicas[0]["pid"] == pids[0]
    assert replicas[0]["restarts"] == 0
    assert replicas[1]["pid"] != pids[1]
    assert "BackOff" in await _reasons(live_api.admin, "service", "web")


async def test_failing_liveness_restarts_the_replica(live_api: Api) -> None:
    spec = {
        "command": [PY, "-c", "import time; time.sleep(600)"],
        "liveness": {"exec": {"command": ["false"]}, "period": "100ms", "failureThreshold": 2},
        "backoff": {"initial": "100ms", "max": "200ms"},
    }
    await live_api.admin.apply([service("sick", **spec)])
    await eventually(
        _phase(live_api.admin, "service", "sick"),
        lambda o: any(r.get("restarts", 0) >= 1 for r in o.status.get("replicas", [])),
        what="a restart after failing liveness",
    )
    assert "ProbeFailed" in await _reasons(live_api.admin, "service", "sick")


async def test_deleting_a_running_service_stops_its_processes(live_api: Api) -> None:
    await live_api.admin.apply(
        [service("doomed", command=[PY, "-c", "import time; time.sleep(600)"], replicas=2)]
    )
    running = await eventually(
        _phase(live_api.admin, "service", "doomed"),
        lambda o: len([r for r in o.status.get("replicas", []) if r.get("pid")]) == 2,
    )
    pids = [r["pid"] for r in running.status["replicas"]]
    deleted = await live_api.admin.delete("service", "doomed")
    assert not deleted.finished

    async def gone() -> bool:
        return not await live_api.admin.list("services")

    await eventually(gone, bool, what="the service to be removed")
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_workspace_keeps_its_volume_across_pause_and_resume(live_api: Api) -> None:
    write = (
        "import os,pathlib,time; d=pathlib.Path(os.environ['SAPWOOD_VOLUME_NOTES']);"
        "f=d/'runs'; f.write_text(f.read_text()+'x' if f.exists() else 'x'); time.sleep(600)"
    )
    spec = {"command": [PY, "-c", write], "volumes": [{"name": "notes", "mountPath": "/notes"}]}
    await live_api.admin.apply([workspace("lab", **spec)])
    await eventually(_phase(live_api.admin, "workspace", "lab"), lambda o: o.phase == "Running")
    await live_api.admin.apply([workspace("lab", **spec, paused=True)])
    paused = await eventually(
        _phase(live_api.admin, "workspace", "lab"), lambda o: o.phase == "Paused"
    )
    assert "allocated" not in paused.status
    await live_api.admin.apply([workspace("lab", **spec)])
    await eventually(
        _phase(live_api.admin, "workspace", "lab"),
        lambda o: (
            o.phase == "Running"
            and o.status.get("restarts", 0) == 0
            and bool(o.status.get("replicas", [{}])[0].get("pid"))
        ),
    )
    volume = next((live_api_home(live_api)).rglob("notes"))

    async def two_runs() -> str:
        runs = volume / "runs"
        return runs.read_text() if runs.exists() else ""

    await eventually(two_runs, lambda text: text == "xx", what="the second run's write")


def live_api_home(api: Api) -> Path:
    return Path(api.transport.app.state.sapwood.settings.home)  # type: ignore[attr-defined]


async def test_memory_hog_is_reported_oom_killed(live_api: Api) -> None:
    runtime = live_api.transport.app.state.sapwood.controller.runtime  # type: ignore[attr-defined]
    if not runtime.limits_mechanism.startswith("cgroup"):
        pytest.skip(f"memory limits here are {runtime.limits_mechanism}, not a cgroup")
    hog = "x = bytearray(400 * 1024 * 1024); import time; time.sleep(30)"
    spec = {"command": [PY, "-c", hog], "resources": {"memory": "64Mi"}, "retries": 0}
    await live_api.admin.apply([job("hog", **spec)])
    done = await eventually(
        _phase(live_api.admin, "job", "hog"), lambda o: o.phase in ("Succeeded", "Failed")
    )
    assert done.status["replicas"][0]["lastExit"]["reason"] == "OOMKilled"


async def test_logs_of_the_previous_run(live_api: Api, shared: Path) -> None:
    code = (
        "import pathlib; p = pathlib.Path('attempts');"
        "n = len(p.read_text()) + 1 if p.exists() else 1; p.write_text('x' * n);"
        "print(f'attempt {n}', flush=True); raise SystemExit(1)"
    )
    spec = {"command": [PY, "-c", code], "retries": 1, "backoff": {"initial": "100ms"}}
    spec["workdir"] = str(shared)
    await live_api.admin.apply([job("twice", **spec)])
    await eventually(_phase(live_api.admin, "job", "twice"), lambda o: o.phase == "Failed")
    current = b"".join([c async for c in live_api.admin.logs("job", "twice")])
    previous = b"".join([c async for c in live_api.admin.logs("job", "twice", previous=True)])
    assert b"attempt 2" in current
    assert b"attempt 1" not in current
    assert b"attempt 1" in previous
