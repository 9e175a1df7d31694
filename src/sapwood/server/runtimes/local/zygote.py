"""A launcher that forks shims from a warm interpreter, so a unit start skips Python start-up.

A fresh ``python -m …shim`` spends about 100 ms importing before it can run anything; the
zygote imports the shim once and forks a new one per unit in a few milliseconds. It is
a child of the server with a pipe each way and nothing else: single-threaded, so forking
it is safe (forking the server itself, with its threads, would not be). A forked shim
starts its own session at once, so it outlives both the zygote and the server, exactly
as a spawned one does. When the server goes, the zygote reads end-of-file and exits.

Protocol: the server writes one unit directory per line; the zygote answers the new
shim's pid on a line, or ``error: …``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from sapwood.server.runtimes.local import shim

SHIM_LOG = "shim.log"


class Zygote:
    """The server's handle on its launcher; ``spawn`` is thread-safe and never raises."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def spawn(self, unit_dir: Path) -> int | None:
        """The pid of a new shim for ``unit_dir``; None when the zygote cannot serve
        (the caller then starts the shim the slow way)."""
        with self._lock:
            try:
                process = self._ensure()
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.write(f"{unit_dir}\n")
                process.stdin.flush()
                answer = process.stdout.readline().strip()
                return int(answer)
            except (OSError, ValueError):
                self._stop()
                return None

    def close(self) -> None:
        """Stops the launcher; shims it started keep running."""
        with self._lock:
            self._stop()

    def _ensure(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self._env,
                text=True,
                start_new_session=True,
            )
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(requests: IO[str], replies: IO[str]) -> None:
    """The zygote's loop: one fork per request line, until end-of-file."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # shims are reaped by the kernel
    for line in requests:
        unit_dir = line.strip()
        if not unit_dir:
            continue
        try:
            pid = os.fork()
        except OSError as exc:
            replies.write(f"error: {exc}\n")
            replies.flush()
            continue
        if pid == 0:
            _become_shim(Path(unit_dir))
        replies.write(f"{pid}\n")
        replies.flush()


def _become_shim(unit_dir: Path) -> None:
    """In the forked child: detach, point stdio at the unit's shim log, run the shim."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the shim waits for its workload
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(unit_dir / SHIM_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        code = shim.main([str(unit_dir)])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
