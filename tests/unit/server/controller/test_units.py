"""unit_spec: what every runtime is asked to run for one replica."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from sapwood.server.controller.plan.units import UnitContext, UnitError, unit_spec
from sapwood.server.runtimes.base import UnitKey, VolumeMount
from tests.unit.server.controller.views import CONTEXT, TEAM, view


def test_job_unit_carries_identity_api_and_token_in_env() -> None:
    job = view(
        "Job",
        "train",
        generation=4,
        command=["python", "train.py"],
        env={"LR": "0.1"},
        resources={"cpu": "1500m", "memory": "2Gi", "gpu": 1},
        replicas=3,
    )

    unit = unit_spec(job, 2, CONTEXT)

    assert unit.key == UnitKey("Job", TEAM, "train", 2)
    assert unit.command == ("python", "train.py")
    assert unit.env == {
        "LR": "0.1",
        "SAPWOOD_KIND": "Job",
        "SAPWOOD_TEAM": TEAM,
        "SAPWOOD_NAME": "train",
        "SAPWOOD_UID": job.uid,
        "SAPWOOD_REPLICA": "2",
        "SAPWOOD_RUN": "1",
        "SAPWOOD_GENERATION": "4",
        "SAPWOOD_URL": CONTEXT.api_url,
        "SAPWOOD_TOKEN": CONTEXT.token,
        "PYTHONUNBUFFERED": "1",
    }
    assert (unit.cpu_millis, unit.memory_bytes, unit.gpus) == (1500, 2 * 1024**3, 1)
    assert unit.generation == 4
    assert unit.wants_port is False


def test_a_gang_replica_gets_torchruns_variables_on_the_local_runtime() -> None:
    job = view("Job", command=["x"], replicas=3, status={"phase": "Running", "masterPort": 41000})

    envs = [unit_spec(job, rank, CONTEXT).env for rank in range(3)]

    assert [e["RANK"] for e in envs] == ["0", "1", "2"]
    assert [e["LOCAL_RANK"] for e in envs] == ["0", "1", "2"]
    for env in envs:
        assert env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == "3"
        assert env["MASTER_ADDR"] == "127.0.0.1"
        assert env["MASTER_PORT"] == "41000"
        assert env["SAPWOOD_PEERS"] == "127.0.0.1:41000,127.0.0.1:41001,127.0.0.1:41002"


def test_a_gang_replica_in_an_image_has_its_own_host() -> None:
    job = view("Job", command=["x"], replicas=2, status={"phase": "Running", "masterPort": 29500})
    context = UnitContext(api_url="http://sapwood:8400", token="t", runs_images=True)

    env = unit_spec(job, 1, context).env

    assert (env["WORLD_SIZE"], env["RANK"], env["LOCAL_RANK"]) == ("2", "1", "0")
    assert env["MASTER_PORT"] == "29500"
    # Each replica is a pod of its own with no stable name: nothing to point rank 0 at.
    assert "MASTER_ADDR" not in env
    assert "SAPWOOD_PEERS" not in env


def test_the_user_may_set_torchruns_variables_but_not_sapwoods() -> None:
    job = view(
        "Job",
        command=["x"],
        replicas=2,
        env={"MASTER_PORT": "12345", "SAPWOOD_PEERS": "forged", "SAPWOOD_RUN": "9"},
        status={"phase": "Running", "masterPort": 41000, "run": 3},
    )
    env = unit_spec(job, 0, CONTEXT).env
    assert env["MASTER_PORT"] == "12345"
    assert env["SAPWOOD_PEERS"].startswith("127.0.0.1:41000,")
    assert env["SAPWOOD_RUN"] == "3"


def test_a_single_replica_job_is_no_gang() -> None:
    env = unit_spec(view("Job", command=["x"], status={"masterPort": 41000}), 0, CONTEXT).env
    assert "WORLD_SIZE" not in env
    assert "MASTER_PORT" not in env


def test_user_env_cannot_override_the_controllers_identity() -> None:
    job = view(
        "Job",
        command=["x"],
        env={"SAPWOOD_TOKEN": "forged", "SAPWOOD_TEAM": "other", "PYTHONUNBUFFERED": "0"},
    )
    env = unit_spec(job, 0, CONTEXT).env
    assert env["SAPWOOD_TOKEN"] == CONTEXT.token
    assert env["SAPWOOD_TEAM"] == TEAM
    assert env["PYTHONUNBUFFERED"] == "0"


def test_a_string_command_runs_through_the_shell() -> None:
    unit = unit_spec(view("Job", command="python train.py --epochs 3 | tee log"), 0, CONTEXT)
    assert unit.command == ("/bin/sh", "-c", "python train.py --epochs 3 | tee log")


@pytest.mark.parametrize("kind", ["Service", "Workspace"])
def test_services_and_workspaces_ask_for_a_port(kind: str) -> None:
    extra = {"tool": "command"} if kind == "Workspace" else {}
    unit = unit_spec(view(kind, "web", command=["serve"], **extra), 0, CONTEXT)
    assert unit.wants_port is True


def test_volumes_and_grace_period_are_passed_on() -> None:
    job = view(
        "Job",
        command=["x"],
        volumes=[{"name": "data", "mountPath": "/data"}],
        terminationGracePeriod="45s",
        workdir="/work",
    )
    unit = unit_spec(job, 0, CONTEXT)
    assert unit.volumes == (VolumeMount("data", "/data"),)
    assert unit.grace_period_s == 45
    assert unit.workdir == "/work"


def test_a_model_service_runs_the_model_server_with_the_workload_env() -> None:
    unit = unit_spec(view("Service", "llm", model="bert@prod"), 0, CONTEXT)
    assert unit.command[1:] == ("-m", "sapwood.serving", "--model", "bert@prod")
    assert unit.env["SAPWOOD_TOKEN"] == CONTEXT.token
    assert unit.env["SAPWOOD_TEAM"]


def test_jupyter_workspace_says_how_to_install_it_when_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UnitError) as caught:
        unit_spec(view("Workspace", "nb"), 0, CONTEXT)
    assert caught.value.reason == "JupyterNotInstalled"
    assert "pip install jupyterlab" in str(caught.value)


def test_jupyter_workspace_serves_on_port_with_the_workload_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    jupyter = tmp_path / "jupyter"
    jupyter.write_text("#!/bin/sh\n")
    jupyter.chmod(jupyter.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))

    unit = unit_spec(
        view("Workspace", "nb", volumes=[{"name": "home", "mountPath": "/h"}]), 0, CONTEXT
    )

    assert unit.command[:2] == ("/bin/sh", "-c")
    line = unit.command[2]
    assert str(jupyter) in line
    assert '--port="$PORT"' in line
    # the token from the environment, or from the file a confined workspace gets
    assert '--ServerApp.token="${SAPWOOD_TOKEN:-$(cat "$SAPWOOD_TOKEN_FILE")}"' in line
    assert "${SAPWOOD_VOLUME_HOME}" in line
    assert unit.wants_port is True


def test_placement_priority_and_probes_are_passed_on() -> None:
    service = view(
        "Service",
        "web",
        command=["serve"],
        nodeSelector={"pool": "serving"},
        resources={"gpu": 1, "gpuModel": "NVIDIA-A100-SXM4-80GB"},
        priority="high",
        readiness={"http": {"path": "/ready"}, "period": "2s"},
        liveness={"tcp": {"port": 7000}},
    )
    unit = unit_spec(service, 0, CONTEXT)
    assert unit.node_selector == {"pool": "serving"}
    assert unit.gpu_model == "NVIDIA-A100-SXM4-80GB"
    assert unit.priority_class == "high"
    # Probes as declared: each runtime applies them its own way.
    assert unit.readiness is not None
    assert unit.readiness.http is not None
    assert (unit.readiness.http.path, unit.readiness.http.port) == ("/ready", None)
    assert unit.readiness.period == timedelta(seconds=2)
    assert unit.liveness is not None
    assert unit.liveness.tcp is not None
    assert unit.liveness.tcp.port == 7000


def test_a_model_service_is_ready_once_its_model_is_loaded() -> None:
    unit = unit_spec(view("Service", "llm", model="bert@prod"), 0, CONTEXT)
    assert unit.readiness is not None
    assert unit.readiness.http is not None
    assert unit.readiness.http.path == "/v2/health/ready"
    assert unit.liveness is None


def test_a_plain_job_has_the_default_priority_and_no_placement_or_probes() -> None:
    unit = unit_spec(view("Job", command=["x"]), 0, CONTEXT)
    assert unit.priority_class == "normal"
    assert (unit.node_selector, unit.gpu_model) == ({}, None)
    assert (unit.readiness, unit.liveness) == (None, None)
