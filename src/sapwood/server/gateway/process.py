"""The gateway as a child process of ``sapwood server``: started, watched, restarted, stopped."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from sapwood.server.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
PARENT_ENV = "SAPWOOD_GATEWAY_PARENT_PID"


class GatewayProcess:
    """Runs ``python -m sapwood.server.gateway`` and restarts it (with backoff) if it dies."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int,
        host: str = "127.0.0.1",
        log_level: str = "info",
    ) -> None:
        self.env = dict(env)
        self.host = host  # 0.0.0.0 where a Service must reach it (a pod); loopback otherwise
        self.port = port
        self.log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, env: Mapping[str, str], *, log_level: str = "info"
    ) -> GatewayProcess:
        """The gateway ``sapwood server`` starts: on the settings' host and port
        (SAPWOOD_GATEWAY_HOST, SAPWOOD_GATEWAY_PORT), with the server's environment."""
        return cls(env, host=settings.gateway.host, port=settings.gateway.port, log_level=log_level)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "sapwood.server.gateway",
            "--host", self.host, "--port", str(self.port), "--log-level", self.log_level,
        ]  # fmt: skip

    def start(self) -> None:
        """Starts the process and the thread that watches it; returns at once."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="sapwood-gateway", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the process (SIGTERM, then SIGKILL after ``timeout_s``); idempotent."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _spawn(self) -> None:
        # The child exits by itself if this process dies without stopping it (SIGKILL, or
        # uvicorn re-raising SIGTERM before our cleanup runs).
        env = {**self.env, PARENT_ENV: str(os.getpid())}
        self._process = subprocess.Popen(self.command, env=env)
        log.info("gateway started on %s:%d (pid %d)", self.host, self.port, self._process.pid)

    def _watch(self) -> None:
        backoff_s = 1.0
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 10 * MAX_BACKOFF_S:
                backoff_s = 1.0  # it ran fine for a while: this is a new problem
            log.error("gateway (pid %d) exited with %d; restarting in %g s", process.pid, code,
                      backoff_s)  # fmt: skip
            if self._stopping.wait(backoff_s):
                return
            self.restarts += 1
            backoff_s = min(MAX_BACKOFF_S, backoff_s * 2)
            self._spawn()


def exit_with_parent(parent_pid: int, *, interval_s: float = 1.0) -> threading.Thread:
    """Sends this process SIGTERM (a graceful stop) once ``parent_pid`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        log.warning("the server (pid %d) is gone: stopping the gateway", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="sapwood-gateway-parent", daemon=True)
    thread.start()
    return thread
