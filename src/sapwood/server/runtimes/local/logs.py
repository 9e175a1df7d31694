"""Unit logs on disk: the shim writes them with rotation, the runtime reads and follows them.

Files in a unit's directory: current.log (this run), current.log.1 (this run, rotated out
once current.log passed log_max_bytes), previous.log and previous.log.1 (the run before,
moved there when the same key starts again).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from sapwood.server.runtimes.local.records import CURRENT_LOG, PREVIOUS_LOG

CHUNK_BYTES = 64 * 1024


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


class RotatingLogWriter:
    """Appends to a log file; once it holds `max_bytes` the file is renamed to <name>.1
    (replacing the older one) and a fresh file begins. Used by the shim; not thread-safe."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max(1, max_bytes)
        self._handle: BinaryIO = open(path, "ab")  # noqa: SIM115 - lives as long as the writer
        self._size = self._handle.tell()

    def write(self, data: bytes) -> None:
        """Append `data`; a chunk that does not fit is split so no file passes the limit."""
        while data:
            room = self._max_bytes - self._size
            if room <= 0:
                self._rotate()
                room = self._max_bytes
            part, data = data[:room], data[room:]
            self._handle.write(part)
            self._size += len(part)
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def _rotate(self) -> None:
        self._handle.close()
        os.replace(self._path, rotated(self._path))
        self._handle = open(self._path, "ab")  # noqa: SIM115
        self._size = 0


def begin_run(unit_dir: Path) -> None:
    """Before a key starts again: its current logs become the previous ones."""
    current, previous = unit_dir / CURRENT_LOG, unit_dir / PREVIOUS_LOG
    if not current.exists() and not rotated(current).exists():
        return
    for stale in (previous, rotated(previous)):
        stale.unlink(missing_ok=True)
    if rotated(current).exists():
        os.replace(rotated(current), rotated(previous))
    if current.exists():
        os.replace(current, previous)


async def read_logs(
    unit_dir: Path, *, follow: bool, previous: bool, poll_s: float = 0.1
) -> AsyncIterator[bytes]:
    """Yield a unit's log: the rotated part first, then the live file.

    follow=True never ends by itself: it keeps reading current.log and, when the file is
    replaced (rotation, or the key restarted), drains the old file and moves to the new one.
    """
    path = unit_dir / (PREVIOUS_LOG if previous else CURRENT_LOG)
    async for chunk in _read_whole(rotated(path)):
        yield chunk
    if not follow or previous:
        async for chunk in _read_whole(path):
            yield chunk
        return
    async for chunk in _follow(path, poll_s):
        yield chunk


async def _read_whole(path: Path) -> AsyncIterator[bytes]:
    try:
        handle = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:
        return
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


async def _follow(path: Path, poll_s: float) -> AsyncIterator[bytes]:
    handle: BinaryIO | None = None
    try:
        while True:
            if handle is None:
                handle = await asyncio.to_thread(_open_or_none, path)
                if handle is None:
                    await asyncio.sleep(poll_s)
                    continue
            chunk = await asyncio.to_thread(handle.read, CHUNK_BYTES)
            if chunk:
                yield chunk
                continue
            if _replaced(path, handle):
                # Whatever was written to the old file before the switch was read above
                # (we are at its end), so moving on loses nothing.
                rest = await asyncio.to_thread(handle.read)
                if rest:
                    yield rest
                handle.close()
                handle = None
                continue
            await asyncio.sleep(poll_s)
    finally:
        if handle is not None:
            handle.close()


def _open_or_none(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _replaced(path: Path, handle: BinaryIO) -> bool:
    """True when `path` now names another file than the open handle (and that one exists)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    return current.st_ino != os.fstat(handle.fileno()).st_ino
