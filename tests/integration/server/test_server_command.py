"""`sapwood server` as a user runs it: first start creates the admin and a client config."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sapwood.testing.servers import free_port

pytestmark = pytest.mark.slow


@contextmanager
def running_server(home: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["SAPWOOD_HOME"] = str(home)
    process = subprocess.Popen(
        [sys.executable, "-m", "sapwood", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "server exited early"
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _sdk_whoami(home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["SAPWOOD_HOME"] = str(home)
    code = "from sapwood import Client; c = Client(); print(c.whoami().user); c.close()"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_first_start_prints_the_token_once_and_writes_the_client_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    with running_server(home, port) as first:
        config = home / "config.yaml"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        token = next(
            line.split(": ")[-1] for line in config.read_text().splitlines() if "token" in line
        )
        assert _sdk_whoami(home) == "admin"
        first.terminate()
        output, _ = first.communicate(timeout=30)
    assert output.count(token) == 1
    assert (home / "sapwood.db").exists()

    with running_server(home, port) as second:
        assert _sdk_whoami(home) == "admin"
        second.terminate()
        output, _ = second.communicate(timeout=30)
    assert "sw_" not in output
