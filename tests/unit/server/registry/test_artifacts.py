"""Artifact stores: blobs addressed by sha256, published whole, in a folder or through fsspec."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import fsspec
import pytest

from sapwood.server.registry.artifacts import (
    ArtifactStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    blob_key,
    open_store,
)
from tests.support_onnx import mlp_model


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "models")
    return FsspecArtifactStore(
        f"memory://sapwood-test-{uuid.uuid4().hex}/models", staging_dir=tmp_path / "uploads"
    )


def _file(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / f"upload-{uuid.uuid4().hex}.onnx"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_put_read_and_delete_by_content_address(store: ArtifactStore, tmp_path: Path) -> None:
    data = mlp_model(features=4)
    path, sha = _file(tmp_path, data)
    assert not store.exists(sha)
    store.put(sha, path)
    assert store.exists(sha)
    assert b"".join(store.read(sha)) == data
    again, _ = _file(tmp_path, data)
    store.put(sha, again)  # idempotent
    assert b"".join(store.read(sha)) == data
    store.delete(sha)
    store.delete(sha)  # idempotent
    assert not store.exists(sha)
    with pytest.raises(FileNotFoundError):
        b"".join(store.read(sha))


def test_local_blobs_live_under_their_sha256_and_leave_no_temporary_files(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "models")
    path, sha = _file(tmp_path, b"model bytes")
    store.put(sha, path)
    files = [
        p.relative_to(tmp_path / "models") for p in (tmp_path / "models").rglob("*") if p.is_file()
    ]
    assert files == [Path("sha256") / sha[:2] / sha]


def test_the_memory_filesystem_holds_the_blob_under_the_prefix(tmp_path: Path) -> None:
    url = f"memory://bucket-{uuid.uuid4().hex}/team-models"
    store = open_store(url, home=tmp_path)
    path, sha = _file(tmp_path, b"abc")
    store.put(sha, path)
    fs = fsspec.filesystem("memory")
    assert fs.cat_file(f"{url.removeprefix('memory://')}/{blob_key(sha)}") == b"abc"


def test_open_store_defaults_to_a_folder_in_home(tmp_path: Path) -> None:
    store = open_store(None, home=tmp_path)
    assert isinstance(store, LocalArtifactStore)
    assert store.root == tmp_path / "models"
    assert isinstance(open_store(str(tmp_path / "elsewhere"), home=tmp_path), LocalArtifactStore)


def test_an_unknown_filesystem_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="nosuchfs://bucket/prefix is not a known filesystem"):
        open_store("nosuchfs://bucket/prefix", home=tmp_path)


def test_s3_without_s3fs_says_which_extra_to_install(tmp_path: Path) -> None:
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed here")
    with pytest.raises(RuntimeError, match=r"sapwood\[s3\]"):
        open_store("s3://bucket/prefix", home=tmp_path)


def test_blob_keys_refuse_what_is_not_a_digest() -> None:
    with pytest.raises(ValueError, match="sha256"):
        blob_key("../../etc/passwd")
