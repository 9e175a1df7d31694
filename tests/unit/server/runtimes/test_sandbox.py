"""The sandbox's pure parts: the bubblewrap command, the workload's environment, team
uids, and what detection reports when the machine lacks a tool."""

from __future__ import annotations

from pathlib import Path

from sapwood.server.runtimes.local.sandbox import (
    TOKEN_FILE,
    WORK_DIR,
    Confinement,
    Sandbox,
    assign_uid,
    closed_folder,
    detect,
    expose_args,
    exposes,
    exposures,
    other_teams,
    private_parents,
    sandbox_env,
    wrap_command,
)

SANDBOX = Sandbox(bwrap="/usr/bin/bwrap", setpriv="/usr/bin/setpriv", team_uids=True)
TOP = ["usr", "etc", "proc", "tmp", "dev", "run", "home", "bin"]


def confinement(**fields: object) -> Confinement:
    base: dict[str, object] = {
        "work_dir": Path("/srv/sapwood/runtime/units/u/work"),
        "token_file": Path("/srv/sapwood/runtime/units/u/token"),
        "volumes": {"data": Path("/srv/sapwood/runtime/volumes/red/data")},
        "uid": 200_001,
        "hidden": (Path("/srv/sapwood"),),
    }
    return Confinement(**{**base, **fields})  # type: ignore[arg-type]


def test_the_command_hides_the_server_last_and_drops_to_the_team_uid() -> None:
    argv = wrap_command(SANDBOX, confinement(), ["python", "train.py"], top=TOP)
    assert argv[0] == "/usr/bin/bwrap"
    assert {"--unshare-pid", "--unshare-ipc"} <= set(argv)
    # Host folders come in read-only; /proc, /tmp, /dev and /run are the sandbox's own.
    assert argv[argv.index("/usr") - 1 : argv.index("/usr") + 2] == ["--ro-bind", "/usr", "/usr"]
    assert "/proc" not in argv[: argv.index("--proc")]
    at = argv.index("/tmp")
    assert argv[at - 3 : at + 1] == ["--perms", "1777", "--tmpfs", "/tmp"]  # writable, sticky
    # The unit's own things appear under /sapwood.
    assert "/sapwood/volumes/data" in argv
    assert argv[argv.index(TOKEN_FILE) - 2] == "--ro-bind"
    # The server's home is masked after every bind, so no bind can expose it again.
    end = argv.index("--chdir")
    assert argv[end - 2 : end] == ["--tmpfs", "/srv/sapwood"]
    assert argv[end + 1] == WORK_DIR
    # Then setpriv drops to the team's uid with no way back to root.
    tail = argv[argv.index("/usr/bin/setpriv") :]
    assert tail[:5] == ["/usr/bin/setpriv", "--reuid", "200001", "--regid", "200001"]
    assert {"--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"} <= set(tail)
    assert tail[-3:] == ["--", "python", "train.py"]


def test_without_root_the_workload_keeps_the_servers_uid() -> None:
    sandbox = Sandbox(bwrap="/usr/bin/bwrap")
    argv = wrap_command(sandbox, confinement(uid=None), ["true"], top=TOP)
    assert "/usr/bin/setpriv" not in argv
    assert argv[-2:] == ["--", "true"]


def test_a_workdir_is_bound_where_it_is_and_becomes_the_working_directory() -> None:
    argv = wrap_command(SANDBOX, confinement(workdir="/tmp/a/b/project"), ["true"], top=TOP)
    assert argv[argv.index("/tmp/a/b/project") - 1 : argv.index("/tmp/a/b/project") + 2] == [
        "--bind",
        "/tmp/a/b/project",
        "/tmp/a/b/project",
    ]
    assert argv[argv.index("--chdir") + 1] == "/tmp/a/b/project"
    assert private_parents("/tmp/a/b/project") == ["/tmp/a", "/tmp/a/b"]
    assert private_parents("/home/ada/project") == []


def test_the_environment_carries_a_token_file_not_the_token() -> None:
    env = {"SAPWOOD_TOKEN": "sw_x_y", "PATH": "/usr/bin", "TMPDIR": "/var/tmp/x"}
    out = sandbox_env(env, confinement(), team="red")
    assert "SAPWOOD_TOKEN" not in out
    assert out["SAPWOOD_TOKEN_FILE"] == TOKEN_FILE
    assert out["SAPWOOD_VOLUME_DATA"] == "/sapwood/volumes/data"
    assert out["HOME"] == WORK_DIR
    assert out["USER"] == out["LOGNAME"] == "sapwood-red"
    assert "TMPDIR" not in out
    assert out["PATH"] == "/usr/bin"


def test_team_uids_are_stable_distinct_and_skip_the_machines_users() -> None:
    assigned = {"red": 200_000}
    assert assign_uid(assigned, "red", first=200_000, taken=lambda uid: False) == 200_000
    taken = {200_001}
    assert assign_uid(assigned, "blue", first=200_000, taken=taken.__contains__) == 200_002


def test_what_a_workdir_would_expose() -> None:
    home = Path("/root/.sapwood")
    assert exposes(home / "runtime", [home]) == home
    assert exposes(home, [home]) == home
    assert exposes(Path("/root/projects"), [home]) is None
    assert other_teams("red", ["red", "blue", "blue", "green"]) == ["blue", "green"]


def test_detection_says_what_is_missing() -> None:
    missing = detect(enabled=True, is_root=True, which=lambda name: None)
    assert not missing.isolates
    assert "bubblewrap (bwrap) is not installed" in missing.missing[0]
    assert "apt-get install bubblewrap" in missing.missing[0]
    off = detect(enabled=False, is_root=True, which=lambda name: "/usr/bin/" + name)
    assert not off.isolates
    assert off.describe() == "none"
    assert "SAPWOOD_ISOLATION=off" in off.missing[0]


def test_a_closed_folder_above_the_interpreter_is_found(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "bin").mkdir(parents=True)
    closed.chmod(0o700)
    found = closed_folder(closed / "bin" / "python")
    assert found is not None
    assert found == closed or found in closed.parents  # pytest's own folder may be 0700
    assert closed_folder(Path("/usr/bin/python3")) is None


def test_a_python_under_a_closed_folder_is_shown_alone_in_a_passable_one(tmp_path: Path) -> None:
    argv = expose_args([("/root", "/root/.pyenv/versions/3.11.7")])
    assert argv == [
        "--perms", "0755", "--tmpfs", "/root",
        "--perms", "0755", "--dir", "/root/.pyenv",
        "--perms", "0755", "--dir", "/root/.pyenv/versions",
        "--ro-bind", "/root/.pyenv/versions/3.11.7", "/root/.pyenv/versions/3.11.7",
    ]  # fmt: skip
    closed = tmp_path / "home"
    python = closed / "pyenv" / "3.11"
    python.mkdir(parents=True)
    closed.chmod(0o700)
    (found,) = exposures([python])
    assert Path(found[1]) == python
    assert Path(found[0]) in (closed, *closed.parents)
    assert exposures([Path("/usr")]) == ()


def test_a_checkout_under_tmp_is_shown_where_it_is_in_the_sandboxs_own_tmp() -> None:
    """A server run from /tmp/ci/.venv: the sandbox's /tmp is private, so the workload
    would not find the interpreter or the source tree without these binds."""
    found = exposures([Path("/tmp/ci/.venv"), Path("/tmp/ci/src")])
    assert found == (("/tmp", "/tmp/ci/.venv"), ("/tmp", "/tmp/ci/src"))
    argv = expose_args(found)
    assert "--tmpfs" not in argv  # /tmp is the sandbox's own tmpfs already
    assert argv[:4] == ["--perms", "0755", "--dir", "/tmp/ci"]
    assert argv[-3:] == ["--ro-bind", "/tmp/ci/src", "/tmp/ci/src"]
