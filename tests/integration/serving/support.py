"""A model server in a child process, for the integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from sapwood.testing.servers import free_port


@contextmanager
def serving_process(
    args: list[str], *, env: Mapping[str, str] | None = None, log: Path
) -> Iterator[str]:
    """``python -m sapwood.serving ARGS --port P``; yields its URL once it is ready."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    child_env.update(env or {})
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sapwood.serving", *args, "--port", str(port)],
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the model server did not become ready:\n{log.read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
