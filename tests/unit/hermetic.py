"""What keeps unit tests hermetic: no network, no child processes, a short timeout.

A unit test that connects a socket (to anything, loopback and Unix sockets included) or
starts a process fails with a message naming what it tried. Binding a port to learn that it
is free stays allowed: nothing leaves the process. The error is raised where the call
is made and, in case the code under test swallows it, the test fails at teardown too.
Tests that need real processes or servers belong in tests/integration.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

#: Seconds a unit test may take; the project's default (pyproject) is for integration tests.
UNIT_TIMEOUT_S = 10.0
#: A property test runs hundreds of examples; it still must not hang.
PROPERTY_TIMEOUT_S = 60.0


class HermeticError(AssertionError):
    """A unit test reached for the network or a process. Not an OSError, so retry loops
    that catch connection errors do not hide it."""


class Guard:
    """Patches the ways out of the process; records each attempt."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts: list[str] = []
        self._monkeypatch = monkeypatch

    def refuse(self, what: str) -> HermeticError:
        message = (
            f"unit tests may not {what}: use httpx.MockTransport or httpx.ASGITransport, "
            "the FakeRuntime and FakeClock, or move the test to tests/integration"
        )
        self.attempts.append(what)
        return HermeticError(message)

    def install(self) -> None:
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            raise guard.refuse(f"connect a socket to {address!r}")

        def connect_ex(sock: socket.socket, address: Any) -> int:
            raise guard.refuse(f"connect a socket to {address!r}")

        def child(name: str) -> Callable[..., Any]:
            def refused(*args: Any, **kwargs: Any) -> Any:
                raise guard.refuse(f"start a process ({name} {_shown(args)})")

            return refused

        patch = self._monkeypatch.setattr
        patch(socket.socket, "connect", connect)
        patch(socket.socket, "connect_ex", connect_ex)
        # Popen is where subprocess.run/check_output and asyncio's subprocesses all end up.
        patch(subprocess.Popen, "_execute_child", child("subprocess"))
        for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                patch(os, name, child(f"os.{name}"))


def _shown(args: tuple[Any, ...]) -> str:
    first = args[1] if len(args) > 1 else args[0] if args else ""
    text = " ".join(map(str, first)) if isinstance(first, list | tuple) else str(first)
    return text[:120]
