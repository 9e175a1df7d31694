"""The unit-test guard refuses the network and child processes, naming what was tried."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.unit.hermetic import Guard, HermeticError


@pytest.fixture
def guard() -> Iterator[Guard]:
    # A guard of its own, so what this test tries is not counted against it at teardown.
    with pytest.MonkeyPatch.context() as patch:
        own = Guard(patch)
        own.install()
        yield own


def test_a_loopback_connection_is_refused(guard: Guard) -> None:
    with socket.socket() as sock, pytest.raises(HermeticError, match="connect a socket"):
        sock.connect(("127.0.0.1", 9))
    assert guard.attempts == ["connect a socket to ('127.0.0.1', 9)"]


def test_a_child_process_is_refused(guard: Guard) -> None:
    with pytest.raises(HermeticError, match="start a process"):
        subprocess.run(["true"], check=True)
    with pytest.raises(HermeticError, match=r"os\.system"):
        os.system("true")


def test_an_asyncio_child_process_is_refused(guard: Guard) -> None:
    async def start() -> None:
        await asyncio.create_subprocess_exec("true")

    with pytest.raises(HermeticError, match="start a process"):
        asyncio.run(start())


def test_the_guard_is_on_in_every_unit_test() -> None:
    assert socket.socket.connect.__module__ == "tests.unit.hermetic"
