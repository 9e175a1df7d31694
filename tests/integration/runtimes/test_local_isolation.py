"""Teams kept apart on the local runtime: the escape a red-team Job once made, step by
step, now fails, while a workload still reads its own volumes, inputs and token.

The escape (issue "keep tenants apart"): a member's Job read the server's config.yaml
(the admin token), secret.key, sapwood.db and other teams' tokens from
/proc/<pid>/environ, then called the API as admin; a Service's http.server served the
server's working directory.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sapwood.server.runtimes.base import (
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
    VolumeMount,
)
from sapwood.server.runtimes.local.runtime import LocalRuntime
from sapwood.server.runtimes.local.sandbox import TOKEN_FILE, WORK_DIR
from tests.conftest import require_sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ADMIN_TOKEN = "sw_admin0000000000_not-for-workloads"
VICTIM_TOKEN = "sw_wvictim_blue-team-token"
VICTIM_ENV_SECRET = "blue-secret-in-environment"
ATTACKER_TOKEN = "sw_wattacker_red-team-token"

VICTIM = textwrap.dedent(
    """
    import os, pathlib, time
    volume = pathlib.Path(os.environ["SAPWOOD_VOLUME_DATA"])
    (volume / "secret.txt").write_text("blue volume secret")
    print("victim ready", flush=True)
    time.sleep(600)
    """
)

# Every step of the escape; each records what it got, or the error that stopped it.
ATTACKER = textwrap.dedent(
    """
    import glob, json, os, pathlib, sys
    home, victim_dir, blue_volume = sys.argv[1:4]
    found = {}

    def attempt(name, read):
        try:
            found[name] = read()
        except Exception as exc:
            found[name] = "DENIED " + type(exc).__name__

    text = lambda path: pathlib.Path(path).read_text(errors="replace")
    raw = lambda path: pathlib.Path(path).read_bytes().hex()
    attempt("config", lambda: text(home + "/config.yaml"))
    attempt("secret_key", lambda: text(home + "/secret.key"))
    attempt("database", lambda: raw(home + "/sapwood.db"))
    attempt("home_listing", lambda: sorted(os.listdir(home)))
    attempt("victim_token_file", lambda: text(victim_dir + "/token"))
    attempt("victim_launch", lambda: text(victim_dir + "/launch.json"))
    attempt("victim_log", lambda: text(victim_dir + "/current.log"))
    attempt("blue_volume", lambda: text(blue_volume + "/secret.txt"))

    environs = []
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            environs.append(pathlib.Path(path).read_bytes().decode(errors="replace"))
        except OSError:
            pass
    found["environs"] = environs
    found["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    found["cwd"] = os.getcwd()
    found["cwd_listing"] = sorted(os.listdir("."))
    found["uid"] = os.getuid()

    # What it must still have: its token (in a file), its inputs, its volume.
    found["env_token"] = os.environ.get("SAPWOOD_TOKEN")
    found["own_token"] = text(os.environ["SAPWOOD_TOKEN_FILE"])
    found["input"] = text("input.txt")
    found["input_by_path"] = text(os.path.join(os.getcwd(), "input.txt"))
    volume = pathlib.Path(os.environ["SAPWOOD_VOLUME_SCRATCH"])
    (volume / "out.txt").write_text("written by red")
    found["own_volume"] = text(volume / "out.txt")
    import tempfile
    with tempfile.NamedTemporaryFile("w+", prefix="scratch") as scratch:
        scratch.write("temp files work")
        scratch.seek(0)
        found["own_tmp"] = scratch.read()
    print("RESULT " + json.dumps(found), flush=True)
    """
)


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    """A server home as `sapwood server` leaves it: admin token, key and database."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.yaml").write_text(f"url: http://127.0.0.1:8420\ntoken: {ADMIN_TOKEN}\n")
    (home / "secret.key").write_text("00" * 32)
    (home / "sapwood.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 84)
    for name in ("config.yaml", "secret.key", "sapwood.db"):
        (home / name).chmod(0o600)
    return home


async def read_result(runtime: LocalRuntime, key: UnitKey) -> dict[str, Any]:
    chunks = [chunk async for chunk in runtime.logs(key)]
    lines = b"".join(chunks).decode().splitlines()
    (line,) = [x for x in lines if x.startswith("RESULT ")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


async def test_the_escape_fails_step_by_step_and_a_workload_keeps_what_is_its_own(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    wait_until: Callable[..., Awaitable[Any]],
    server_home: Path,
    tmp_path: Path,
) -> None:
    require_sandbox()
    data_dir = server_home / "runtime"
    runtime = make_runtime(data_dir=data_dir, isolation=True, hidden=(server_home,))
    victim = UnitKey("Job", "blue", "victim")
    await runtime.start(
        UnitSpec(
            key=victim,
            command=(sys.executable, "-c", VICTIM),
            env={"SAPWOOD_TOKEN": VICTIM_TOKEN, "VICTIM_SECRET": VICTIM_ENV_SECRET},
            volumes=(VolumeMount("data", "/data"),),
        )
    )

    async def victim_ready() -> bool:
        return b"victim ready" in b"".join([c async for c in runtime.logs(victim)])

    await wait_until(victim_ready)

    inputs = tmp_path / "inputs"
    inputs.mkdir(mode=0o755)
    inputs.chmod(0o755)  # whatever the umask: the team may read its inputs
    (inputs / "input.txt").write_text("the team's own input")
    (inputs / "input.txt").chmod(0o644)
    attacker = UnitKey("Job", "red", "attacker")
    victim_dir = data_dir / "units" / victim.slug()
    blue_volume = data_dir / "volumes" / "blue" / "data"
    await runtime.start(
        UnitSpec(
            key=attacker,
            command=(
                sys.executable,
                "-c",
                ATTACKER,
                str(server_home),
                str(victim_dir),
                str(blue_volume),
            ),
            env={"SAPWOOD_TOKEN": ATTACKER_TOKEN},
            workdir=str(inputs),
            volumes=(VolumeMount("scratch", "/scratch"),),
        )
    )
    state = await wait_state(runtime, attacker)
    assert state.exit_code == 0, b"".join([c async for c in runtime.logs(attacker)])
    found = await read_result(runtime, attacker)

    # The server's home, keys and database are out of reach.
    for step in ("config", "secret_key", "database"):
        assert str(found[step]).startswith("DENIED"), (step, found[step])
    assert found["home_listing"] in ([], "DENIED PermissionError")  # masked: empty
    assert ADMIN_TOKEN not in json.dumps(found)
    # Another team's unit: its token, launch file, logs and volume.
    for step in ("victim_token_file", "victim_launch", "victim_log", "blue_volume"):
        assert str(found[step]).startswith("DENIED"), (step, found[step])
    # Other units' environments: not even listed (its own PID namespace).
    assert not any(VICTIM_ENV_SECRET in e or VICTIM_TOKEN in e for e in found["environs"])
    assert len(found["pids"]) < 5, found["pids"]
    # Its own uid, not the server's.
    assert found["uid"] != os.geteuid()
    # What is its own: token (in a file, not in its environment), inputs, volume.
    assert found["env_token"] is None
    assert found["own_token"] == ATTACKER_TOKEN
    assert found["input"] == found["input_by_path"] == "the team's own input"
    assert found["own_volume"] == "written by red"
    assert found["own_tmp"] == "temp files work"  # a private /tmp it may write
    assert found["cwd"] == str(inputs)
    assert state.isolated_by == "uid+namespaces"


async def test_without_a_workdir_a_workload_starts_in_a_private_folder_not_the_servers(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    server_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Service's `python -m http.server` served the server's working directory."""
    require_sandbox()
    server_cwd = tmp_path / "server-cwd"
    server_cwd.mkdir()
    (server_cwd / "server-file.txt").write_text("the server's")
    monkeypatch.chdir(server_cwd)
    runtime = make_runtime(data_dir=server_home / "runtime", isolation=True)
    key = UnitKey("Service", "red", "web")
    code = "import json, os; print('RESULT ' + json.dumps([os.getcwd(), os.listdir('.')]))"
    await runtime.start(UnitSpec(key=key, command=(sys.executable, "-c", code), env={}))
    await wait_state(runtime, key)
    chunks = b"".join([c async for c in runtime.logs(key)]).decode()
    cwd, listing = json.loads(chunks.split("RESULT ", 1)[1])
    assert cwd == WORK_DIR
    assert "server-file.txt" not in listing


async def test_unit_files_are_the_servers_alone(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    server_home: Path,
) -> None:
    require_sandbox()
    data_dir = server_home / "runtime"
    runtime = make_runtime(data_dir=data_dir, isolation=True)
    key = UnitKey("Job", "red", "quiet")
    code = "print('hello')"
    await runtime.start(
        UnitSpec(key=key, command=(sys.executable, "-c", code), env={"SAPWOOD_TOKEN": "t"})
    )
    await wait_state(runtime, key)
    unit_dir = data_dir / "units" / key.slug()
    for path in (data_dir, data_dir / "units", unit_dir):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for name in ("launch.json", "record.json", "exit.json", "current.log"):
        mode = stat.S_IMODE((unit_dir / name).stat().st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))
    launch = json.loads((unit_dir / "launch.json").read_text())
    assert "SAPWOOD_TOKEN" not in launch["env"]
    assert launch["env"]["SAPWOOD_TOKEN_FILE"] == TOKEN_FILE


async def test_a_workdir_inside_the_servers_home_is_refused(
    make_runtime: Callable[..., LocalRuntime], server_home: Path
) -> None:
    require_sandbox()
    runtime = make_runtime(data_dir=server_home / "runtime", isolation=True, hidden=(server_home,))
    spec = UnitSpec(
        key=UnitKey("Job", "red", "sneaky"),
        command=("cat", "config.yaml"),
        env={},
        workdir=str(server_home),
    )
    with pytest.raises(RuntimePermanentError, match="inside the server's data"):
        await runtime.start(spec)


async def test_a_stop_reaches_the_confined_workload_and_lets_it_finish(
    make_runtime: Callable[..., LocalRuntime],
    wait_until: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    """SIGTERM goes to the workload, not to bubblewrap (which would die of it at once)."""
    require_sandbox()
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=True)
    key = UnitKey("Service", "red", "graceful")
    code = textwrap.dedent(
        """
        import signal, sys, time
        def bye(*_):
            print("cleaning up", flush=True)
            time.sleep(0.3)
            print("clean exit", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("serving", flush=True)
        time.sleep(600)
        """
    )
    await runtime.start(
        UnitSpec(key=key, command=(sys.executable, "-c", code), env={}, grace_period_s=10)
    )

    async def serving() -> bool:
        return b"serving" in b"".join([c async for c in runtime.logs(key)])

    await wait_until(serving)
    await runtime.stop(key)
    (state,) = [s for s in await runtime.observe() if s.key == key]
    assert state.phase is UnitPhase.EXITED
    assert state.exit_code == 0
    logs = b"".join([c async for c in runtime.logs(key)])
    assert b"clean exit" in logs


async def test_without_isolation_one_teams_workloads_run_at_a_time(
    make_runtime: Callable[..., LocalRuntime], tmp_path: Path
) -> None:
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=False)
    sleep = (sys.executable, "-c", "import time; time.sleep(600)")
    await runtime.start(UnitSpec(key=UnitKey("Job", "blue", "a"), command=sleep, env={}))
    with pytest.raises(RuntimeTemporaryError, match=r"cannot keep teams apart.*team blue"):
        await runtime.start(UnitSpec(key=UnitKey("Job", "red", "b"), command=sleep, env={}))
    # The same team still runs beside itself.
    await runtime.start(UnitSpec(key=UnitKey("Job", "blue", "c"), command=sleep, env={}))


async def test_single_tenant_runs_teams_side_by_side_without_isolation(
    make_runtime: Callable[..., LocalRuntime], tmp_path: Path
) -> None:
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=False, single_tenant=True)
    sleep = (sys.executable, "-c", "import time; time.sleep(600)")
    await runtime.start(UnitSpec(key=UnitKey("Job", "blue", "a"), command=sleep, env={}))
    state = await runtime.start(UnitSpec(key=UnitKey("Job", "red", "b"), command=sleep, env={}))
    assert state.phase is UnitPhase.RUNNING
    assert state.isolated_by == "none"


@pytest.mark.parametrize("confined", [False, True], ids=["unconfined", "confined"])
async def test_a_replica_whose_processes_are_gone_never_reads_as_running(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    tmp_path: Path,
    confined: bool,
) -> None:
    """kill -9 of the shim and everything it ran (an OOM killer, a careless admin): the
    unit reads as exited, not as Running with a pid that no longer exists."""
    if confined:
        require_sandbox()
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=confined)
    key = UnitKey("Service", "red", "doomed")
    started = await runtime.start(
        UnitSpec(key=key, command=(sys.executable, "-c", "import time; time.sleep(600)"), env={})
    )
    assert started.phase is UnitPhase.RUNNING
    unit_dir = tmp_path / "data" / "units" / key.slug()
    shim_pid = json.loads((unit_dir / "record.json").read_text())["shim"]["pid"]
    doomed = {shim_pid} | _descendants(shim_pid)
    for pid in doomed:
        os.kill(pid, signal.SIGKILL)

    state = await wait_state(runtime, key)
    assert state.phase is UnitPhase.EXITED
    assert state.reason == UnitReason.KILLED
    assert not any(_alive(pid) for pid in doomed - {shim_pid})


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("code", "exit_code", "reason"),
    [
        ("raise SystemExit(3)", 3, UnitReason.ERROR),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 137, UnitReason.KILLED),
    ],
)
async def test_a_confined_workload_ends_as_it_would_unconfined(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    tmp_path: Path,
    code: str,
    exit_code: int,
    reason: str,
) -> None:
    """bubblewrap reports a signal as 128 + N; the unit still reads as killed."""
    require_sandbox()
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=True)
    key = UnitKey("Job", "red", "ends")
    await runtime.start(UnitSpec(key=key, command=(sys.executable, "-c", code), env={}))
    state = await wait_state(runtime, key)
    assert (state.exit_code, state.reason) == (exit_code, reason)


async def test_a_confined_memory_hog_is_oom_killed(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    require_sandbox()
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=True)
    if not runtime.limits_mechanism.startswith("cgroup"):
        pytest.skip(f"memory limits here are {runtime.limits_mechanism}, not a cgroup")
    key = UnitKey("Job", "red", "hog")
    hog = "x = bytearray(400 * 1024 * 1024); import time; time.sleep(30)"
    spec = UnitSpec(key=key, command=(sys.executable, "-c", hog), env={}, memory_bytes=64 << 20)
    await runtime.start(spec)
    state = await wait_state(runtime, key)
    assert state.reason == UnitReason.OOM_KILLED


async def test_a_hidden_folder_stays_hidden_even_when_its_files_are_readable(
    make_runtime: Callable[..., LocalRuntime],
    wait_state: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    """The CLI config with the admin token may lie outside the server's home; `sapwood
    server` hides its folder too, whatever the file's mode."""
    require_sandbox()
    cli_config = tmp_path / "dot-sapwood"
    cli_config.mkdir(mode=0o755)
    cli_config.chmod(0o755)
    (cli_config / "config.yaml").write_text(f"token: {ADMIN_TOKEN}\n")
    (cli_config / "config.yaml").chmod(0o644)
    runtime = make_runtime(data_dir=tmp_path / "data", isolation=True, hidden=(cli_config,))
    key = UnitKey("Job", "red", "peek")
    code = f"import os; print('RESULT', os.listdir({str(cli_config)!r}))"
    await runtime.start(UnitSpec(key=key, command=(sys.executable, "-c", code), env={}))
    await wait_state(runtime, key)
    logs = b"".join([c async for c in runtime.logs(key)]).decode()
    assert "RESULT []" in logs
    assert ADMIN_TOKEN not in logs
