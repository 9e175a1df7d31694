"""A two-replica gang Job runs a real torch.distributed all-reduce (gloo, CPU) on the
local runtime, finding its peers through the torchrun variables the controller sets."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from sapwood.schemas import Object
from sapwood.testing.waiting import eventually
from tests.support import Api, job

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None,
        reason="torch is not installed: pip install 'sapwood[torch]' (CPU wheels suffice)",
    ),
]

SCRIPT = """\
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")  # env://: WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT
value = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(value)
print(
    f"rank {dist.get_rank()} of {dist.get_world_size()}: sum {value.item():g}",
    f"via {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
    f"peers {os.environ['SAPWOOD_PEERS']}",
    flush=True,
)
dist.destroy_process_group()
"""


async def test_a_gang_all_reduces_over_gloo(live_api: Api, tmp_path: Path) -> None:
    # The workload runs as its team's uid and sees this folder where it is (its workdir).
    workdir = tmp_path / "ddp"
    workdir.mkdir()
    (workdir / "ddp.py").write_text(SCRIPT)
    for path, mode in ((tmp_path, 0o755), (workdir, 0o755), (workdir / "ddp.py", 0o644)):
        os.chmod(path, mode)  # whatever the umask
    spec = {
        "command": [sys.executable, "ddp.py"],
        "workdir": str(workdir),
        "replicas": 2,
        "retries": 0,
        "env": {"OMP_NUM_THREADS": "1"},
        "resources": {"cpu": "500m", "memory": "4Gi"},
        "activeDeadline": "5m",
    }
    await live_api.admin.apply([job("ddp", **spec)])

    async def probe() -> Object:
        return await live_api.admin.get("job", "ddp")

    done = await eventually(
        probe, lambda o: o.phase in ("Succeeded", "Failed"), timeout_s=240, what="the gang to end"
    )
    logs = [
        b"".join([c async for c in live_api.admin.logs("job", "ddp", replica=r)]).decode()
        for r in (0, 1)
    ]
    assert done.phase == "Succeeded", (done.status, logs)
    port = done.status["masterPort"]
    peers = f"127.0.0.1:{port},127.0.0.1:{port + 1}"
    for rank, text in enumerate(logs):
        # 1 + 2: each replica holds the sum of both ranks' values.
        assert f"rank {rank} of 2: sum 3 via 127.0.0.1:{port} peers {peers}" in text, text
