"""`make demo`'s server handling (scripts/demo_server.sh): the admin token shown on the
terminal on the first start only, and a stop that returns whatever state the server is in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sapwood.testing.servers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs ``script`` with the demo's functions loaded, from the repository root."""
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n. scripts/demo_server.sh\n{script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a stop that hangs fails here
    )


def _env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["SAPWOOD_HOME"] = str(home)
    env["SAPWOOD_URL"] = f"http://127.0.0.1:{port}"
    env["SAPWOOD_GATEWAY_PORT"] = str(free_port())
    return env


def test_the_first_start_shows_the_admin_token_once_and_later_starts_never(
    tmp_path: Path,
) -> None:
    home, port = tmp_path / "home", free_port()
    env = _env(home, port)
    start_stop = f'demo_start_server {port} "$SAPWOOD_HOME/server.log"\necho started\ndemo_stop'

    first = _bash(start_stop, env)
    assert first.returncode == 0, first.stderr
    config = (home / "config.yaml").read_text()
    token = next(line.split(": ")[-1] for line in config.splitlines() if "token" in line)
    assert first.stdout.count(token) == 1
    assert "Created the admin user" in first.stdout
    assert "started" in first.stdout

    second = _bash(start_stop, env)
    assert second.returncode == 0, second.stderr
    assert "started" in second.stdout
    assert token not in second.stdout + second.stderr
    assert "sw_" not in second.stdout + second.stderr
    assert (home / "config.yaml").read_text() == config


@pytest.fixture
def stuck_server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A process in its own session that ignores SIGTERM and accepts connections on a port
    without ever answering: the worst server demo_stop can meet. Yields it and its port."""
    port = free_port()
    code = (
        "import signal, socket\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"s = socket.create_server(('127.0.0.1', {port}))\n"
        "print('listening', flush=True)\n"
        "held = []\n"
        "while True:\n"
        "    held.append(s.accept()[0])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "listening"
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def test_stop_returns_and_kills_a_server_that_neither_answers_nor_stops(
    tmp_path: Path, stuck_server: tuple[subprocess.Popen[str], int]
) -> None:
    process, port = stuck_server
    env = _env(tmp_path / "home", port)
    env["SAPWOOD_TOKEN"] = "sw_unused"

    done = _bash(f"server_pid={process.pid}\ndemo_stop\ndemo_stop", env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.count("removing the demo's objects") == 1  # the second call: nothing
    assert "did not stop within" in done.stderr
    assert process.wait(timeout=10) == -signal.SIGKILL
