"""Spooling an upload to a temporary file while hashing it, so it is checked before it is kept."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spooled:
    path: Path
    sha256: str
    size: int


def _create(directory: Path) -> tuple[int, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".onnx")
    return fd, Path(name)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def spool(chunks: AsyncIterator[bytes], directory: Path) -> Spooled:
    """The chunks written to a new file in ``directory``; the file is removed on failure."""
    fd, path = await asyncio.to_thread(_create, directory)
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(_write_all, fd, chunk)
    except BaseException:
        os.close(fd)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    os.close(fd)
    return Spooled(path=path, sha256=digest.hexdigest(), size=size)


async def discard(upload: Spooled) -> None:
    """Removes the spooled file if it is still there (publishing may have moved it)."""
    await asyncio.to_thread(upload.path.unlink, missing_ok=True)
