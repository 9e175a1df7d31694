"""Where model bytes live, addressed by their sha256: a local folder, or any fsspec store.

A blob is published whole or not at all: locally it is written to a temporary file and
renamed into place; object stores (s3://) make an object visible only once its upload
completes. Blobs are shared by every version with the same bytes, so a blob is removed
only when no version refers to it any more (the service decides that).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import fsspec  # type: ignore[import-untyped]

CHUNK_BYTES = 1024 * 1024


class ArtifactStore(Protocol):
    """Blocking calls: run them from a worker thread."""

    url: str
    staging_dir: Path  # where uploads are spooled before they are checked and published

    def put(self, sha256: str, source: Path) -> None:
        """Publishes the file's bytes under ``sha256``; idempotent. The source may be moved."""

    def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str) -> Iterator[bytes]:
        """The bytes in chunks; FileNotFoundError when absent."""

    def delete(self, sha256: str) -> None:
        """Idempotent."""


def blob_key(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"sha256/{sha256[:2]}/{sha256}"


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)
        # Inside the root, so publishing an upload is a rename on the same filesystem.
        self.staging_dir = root / ".uploads"

    def path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def put(self, sha256: str, source: Path) -> None:
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, final)  # same filesystem: the upload itself is renamed in place
            return
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, CHUNK_BYTES)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def read(self, sha256: str) -> Iterator[bytes]:
        with self.path(sha256).open("rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


class FsspecArtifactStore:
    """Any fsspec URL: ``s3://bucket/prefix`` (with the ``sapwood[s3]`` extra), ``memory://``."""

    def __init__(self, url: str, *, staging_dir: Path) -> None:
        self.url = url
        self.staging_dir = staging_dir
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except ImportError as exc:
            raise RuntimeError(
                f"the model store {url} needs a filesystem package that is not installed "
                f"({exc}); for s3:// install the extra: pip install 'sapwood[s3]'"
            ) from None
        except ValueError as exc:
            raise RuntimeError(f"the model store {url} is not a known filesystem: {exc}") from None
        self.fs: Any = fs
        self.root = str(root).rstrip("/")

    def path(self, sha256: str) -> str:
        return f"{self.root}/{blob_key(sha256)}"

    def put(self, sha256: str, source: Path) -> None:
        final = self.path(sha256)
        if self.fs.exists(final):
            return
        parent = final.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if _renames_atomically(self.fs):
            tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
            try:
                self.fs.put_file(str(source), tmp)
                self.fs.mv(tmp, final)
            except BaseException:
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)
                raise
        else:
            self.fs.put_file(str(source), final)

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self.path(sha256)))

    def read(self, sha256: str) -> Iterator[bytes]:
        with self.fs.open(self.path(sha256), "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk

    def delete(self, sha256: str) -> None:
        path = self.path(sha256)
        if self.fs.exists(path):
            self.fs.rm_file(path)


def _renames_atomically(fs: Any) -> bool:
    # Object stores publish an object only when its upload completes, and a "rename"
    # there is a copy: write in place. Filesystems with real renames go through a temp.
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return any(p in ("file", "local", "sftp", "ssh") for p in protocols)


def open_store(url: str | None, *, home: Path) -> ArtifactStore:
    """The store ``url`` names (a folder path or an fsspec URL); None: ``home/models``."""
    if url is None or not url.strip():
        return LocalArtifactStore(home / "models")
    if "://" not in url or url.startswith("file://"):
        return LocalArtifactStore(Path(url.removeprefix("file://")).expanduser())
    return FsspecArtifactStore(url, staging_dir=home / "uploads")
