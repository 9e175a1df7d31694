"""Writing unit logs: the shim appends with rotation, a new run moves the old one aside.

Files in a unit's directory: current.log (this run), current.log.1 (this run, rotated out
once current.log passed log_max_bytes), previous.log and previous.log.1 (the run before,
moved there when the same key starts again). Reading them is in logs.py. This module
stays free of asyncio: the shim imports it, and every start pays for the shim's imports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from sapwood.server.runtimes.local.records import CURRENT_LOG, PREVIOUS_LOG


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
