"""A server killed with SIGKILL comes back and adopts its workloads: none restarted, none twice."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sapwood.client import Client
from sapwood.testing.servers import free_port, start_server_process
from sapwood.testing.waiting import eventually_sync
from tests.support import job, service

pytestmark = pytest.mark.slow


def _pids_with(marker: str) -> set[int]:
    """The workload processes whose command line holds `marker` (not bubblewrap's own,
    which carry the command they confine)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker.encode() in argv and not argv[0].endswith(b"bwrap"):
                pids.add(int(entry.name))
    return pids


@pytest.fixture
def marker() -> Iterator[str]:
    tag = f"sapwood-adopt-{uuid.uuid4().hex[:8]}"
    yield tag
    for pid in _pids_with(tag):  # whatever the test left behind
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_kill_9_then_restart_adopts_every_workload_once(tmp_path: Path, marker: str) -> None:
    home, port = tmp_path / "home", free_port()
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)", marker]
    server = start_server_process(home, port)
    try:
        os.environ.pop("SAPWOOD_CONFIG", None)
        client = Client(f"http://127.0.0.1:{port}", token=_token(home))
        client.apply([job("long", command=sleeper), service("svc", command=sleeper, replicas=2)])

        def all_running() -> bool:
            jobs = client.get("job", "long").status.get("replicas", [])
            svc = client.get("service", "svc").status.get("replicas", [])
            return len([r for r in jobs + svc if r.get("pid")]) == 3

        eventually_sync(all_running, what="three running replicas")
        before = eventually_sync(
            lambda: _pids_with(marker) if len(_pids_with(marker)) == 3 else None, what="pids"
        )
        starts_before = _count_started(client)
        replica_pids = {r["pid"] for r in client.get("job", "long").status["replicas"]}
        client.close()

        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        assert _pids_with(marker) == before  # workloads outlive their server

        server = start_server_process(home, port)
        client = Client(f"http://127.0.0.1:{port}", token=_token(home))
        time.sleep(0)  # the new controller's first passes run while we poll below
        eventually_sync(
            lambda: client.get("service", "svc").status.get("readyReplicas") == 2, what="ready"
        )
        for _ in range(20):  # several passes: nothing may be started again
            assert _pids_with(marker) == before
            time.sleep(0.1)
        assert _count_started(client) == starts_before
        job_status = client.get("job", "long").status
        assert job_status["phase"] == "Running"
        assert {r["pid"] for r in job_status["replicas"]} == replica_pids

        client.delete("job", "long")
        client.delete("service", "svc")
        eventually_sync(lambda: not _pids_with(marker), what="workloads stopped after delete")
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _token(home: Path) -> str:
    for line in (home / "config.yaml").read_text().splitlines():
        if line.startswith("token:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no token in the client config")


def _count_started(client: Client) -> int:
    return sum(1 for e in client.events(limit=1000) if e.reason == "Started")
