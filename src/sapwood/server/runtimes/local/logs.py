"""Reading unit logs (written by logfile.py), whole or followed across restarts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from sapwood.server.runtimes.local.logfile import rotated
from sapwood.server.runtimes.local.records import CURRENT_LOG, PREVIOUS_LOG

CHUNK_BYTES = 64 * 1024


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
