"""Environment, executable lookup and log files of the local runtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sapwood.server.runtimes.base import (
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitReason,
    UnitSpec,
)
from sapwood.server.runtimes.local.launch import (
    Allocation,
    allocate,
    build_env,
    check_runnable,
    find_executable,
    volume_env_name,
)
from sapwood.server.runtimes.local.logfile import RotatingLogWriter, begin_run

KEY = UnitKey("Job", "research", "train")


def test_unit_slug_is_safe() -> None:
    assert KEY.slug() == "job.research.train.0"
    assert UnitKey("Job", "a/../b", "c.d", 3).slug() == "job.a____b.c_d.3"


def test_env_layers_server_unit_then_runtime() -> None:
    unit = UnitSpec(KEY, ("x",), {"PORT": "1", "A": "unit", "B": "unit"})
    allocation = Allocation((), (0,), (0,), 8080, "0")
    env = build_env(
        {"A": "server", "HOME": "/root"}, unit, allocation, {"model-cache": Path("/v/mc")}
    )
    assert env == {
        "HOME": "/root",
        "A": "unit",
        "B": "unit",
        "PORT": "8080",
        "CUDA_VISIBLE_DEVICES": "0",
        "SAPWOOD_VOLUME_MODEL_CACHE": "/v/mc",
    }
    assert volume_env_name("data.v2") == "SAPWOOD_VOLUME_DATA_V2"


def test_find_executable(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("")
    assert find_executable("tool", path_var=str(tmp_path), workdir=None) == str(tool)
    assert find_executable("./tool", path_var="", workdir=str(tmp_path)) == str(tmp_path / "./tool")
    assert find_executable("./plain", path_var="", workdir=str(tmp_path)) is None
    assert find_executable("tool", path_var="/nowhere", workdir=None) is None
    assert find_executable("sh", path_var=os.environ["PATH"], workdir=None) is not None


def test_writer_rotates_and_keeps_one_file(tmp_path: Path) -> None:
    path = tmp_path / "current.log"
    writer = RotatingLogWriter(path, max_bytes=10)
    for chunk in (b"0123456", b"789abcdefghij", b"klmnopqrstuvwxyz"):
        writer.write(chunk)
    writer.close()
    rotated = tmp_path / "current.log.1"
    assert path.stat().st_size <= 10
    assert rotated.stat().st_size == 10
    assert rotated.read_bytes() + path.read_bytes() == b"abcdefghijklmnopqrstuvwxyz"[-16:]


def test_begin_run_moves_current_logs_to_previous(tmp_path: Path) -> None:
    (tmp_path / "previous.log").write_text("ancient")
    (tmp_path / "previous.log.1").write_text("ancient-rotated")
    (tmp_path / "current.log").write_text("last run")
    begin_run(tmp_path)
    assert (tmp_path / "previous.log").read_text() == "last run"
    assert not (tmp_path / "previous.log.1").exists()
    assert not (tmp_path / "current.log").exists()
    begin_run(tmp_path)  # nothing to move: the previous run's log stays
    assert (tmp_path / "previous.log").read_text() == "last run"


def test_allocate_pins_whole_cpus_and_shares_the_rest() -> None:
    pinned = allocate(
        UnitSpec(KEY, ("x",), {}, cpu_millis=2000, gpus=1),
        cores=(0, 1, 2, 3),
        gpu_count=2,
        held=[((0,), (0,), 9000)],
    )
    assert (pinned.cpu_set, pinned.affinity, pinned.gpu_indices) == ((1, 2), (1, 2), (1,))
    assert pinned.cuda_visible_devices == "1"
    assert pinned.port is None
    shared = allocate(
        UnitSpec(KEY, ("x",), {}, cpu_millis=1500, wants_port=True),
        cores=(0, 1, 2, 3),
        gpu_count=2,
        held=[((0,), (0,), 9000), ((1, 2), (1,), None)],
    )
    assert (shared.cpu_set, shared.affinity) == ((), (3,))
    assert shared.cuda_visible_devices == ""
    assert shared.port not in (None, 9000)


def test_allocate_refuses_what_is_taken() -> None:
    with pytest.raises(RuntimeTemporaryError):
        allocate(
            UnitSpec(KEY, ("x",), {}, cpu_millis=1000),
            cores=(0, 1),
            gpu_count=0,
            held=[((0,), (), None)],
        )
    with pytest.raises(RuntimeTemporaryError):
        allocate(UnitSpec(KEY, ("x",), {}, gpus=1), cores=(0, 1), gpu_count=0, held=[])


def test_check_runnable(tmp_path: Path) -> None:
    with pytest.raises(RuntimePermanentError) as caught:
        check_runnable(UnitSpec(KEY, ("no-such-tool-here",), {}))
    assert caught.value.reason == UnitReason.COMMAND_NOT_FOUND
    with pytest.raises(RuntimePermanentError):
        check_runnable(UnitSpec(KEY, (), {}))
    with pytest.raises(RuntimePermanentError):
        check_runnable(UnitSpec(KEY, ("sh",), {}, workdir=str(tmp_path / "missing")))
    check_runnable(UnitSpec(KEY, ("sh",), {}, workdir=str(tmp_path)))


def test_a_missing_command_says_which_path_folders_were_searched() -> None:
    env = {"PATH": "/opt/tools/bin:/usr/bin"}
    with pytest.raises(RuntimePermanentError) as caught:
        check_runnable(UnitSpec(KEY, ("trian.py",), env))
    assert str(caught.value) == (
        "command not found: trian.py (searched PATH: /opt/tools/bin, /usr/bin)"
    )


def test_a_missing_relative_command_names_the_workdir(tmp_path: Path) -> None:
    with pytest.raises(RuntimePermanentError) as caught:
        check_runnable(UnitSpec(KEY, ("./train.sh",), {}, workdir=str(tmp_path)))
    message = str(caught.value)
    assert message.startswith("command not found: ./train.sh (no file ")
    assert f"relative to the workdir {tmp_path}" in message
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(RuntimePermanentError, match=r"train\.sh is not executable"):
        check_runnable(UnitSpec(KEY, ("./train.sh",), {}, workdir=str(tmp_path)))


def test_server_settings_do_not_leak_into_workloads() -> None:
    unit = UnitSpec(UnitKey("Job", "t", "n"), ("true",), {"SAPWOOD_NAME": "n", "A": "1"})
    server_env = {"PATH": "/bin", "SAPWOOD_DATABASE_URL": "postgresql://u:secret@db/x"}
    env = build_env(server_env, unit, Allocation((), (), (), None, None), {})
    assert env["PATH"] == "/bin"
    assert env["SAPWOOD_NAME"] == "n"
    assert "SAPWOOD_DATABASE_URL" not in env
