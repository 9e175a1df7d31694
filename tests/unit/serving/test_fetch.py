from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from sapwood.serving.fetch import FetchError, cache_dir, fetch_model, parse_model_ref

ENV = {"SAPWOOD_URL": "http://api", "SAPWOOD_TOKEN": "tok", "SAPWOOD_TEAM": "research"}
ARTIFACT = b"onnx bytes"
DIGEST = hashlib.sha256(ARTIFACT).hexdigest()


class Registry:
    """A registry answering for antinex: version 4 under the alias production."""

    def __init__(self, *, artifact: bytes = ARTIFACT) -> None:
        self.artifact = artifact
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        assert request.headers["authorization"] == "Bearer tok"
        base = "/api/v1/teams/research/models/antinex/versions"
        if request.url.path in (f"{base}/production", f"{base}/4"):
            return httpx.Response(
                200,
                json={"version": 4, "sha256": DIGEST, "features": ["a", "b"], "inputs": []},
            )
        if request.url.path == f"{base}/4/artifact":
            return httpx.Response(200, content=self.artifact)
        return httpx.Response(
            404, json={"error": {"code": "not_found", "message": "no such model version"}}
        )


def test_a_model_is_downloaded_once_and_cached_by_sha256(tmp_path: Path) -> None:
    registry = Registry()
    transport = httpx.MockTransport(registry)
    source = fetch_model("antinex@production", env=ENV, cache=tmp_path, transport=transport)
    assert (source.name, source.version, source.features) == ("antinex", "4", ["a", "b"])
    assert source.path == tmp_path / f"{DIGEST}.onnx"
    assert source.path.read_bytes() == ARTIFACT
    again = fetch_model("antinex@4", env=ENV, cache=tmp_path, transport=transport)
    assert again.path == source.path
    assert sum(p.endswith("/artifact") for p in registry.paths) == 1


def test_an_unknown_model_says_what_the_registry_said(tmp_path: Path) -> None:
    transport = httpx.MockTransport(Registry())
    with pytest.raises(FetchError, match=r"antinex@staging.*404.*no such model version"):
        fetch_model("antinex@staging", env=ENV, cache=tmp_path, transport=transport)


def test_bytes_that_do_not_match_their_sha256_are_refused(tmp_path: Path) -> None:
    transport = httpx.MockTransport(Registry(artifact=b"tampered"))
    with pytest.raises(FetchError, match="sha256"):
        fetch_model("antinex@production", env=ENV, cache=tmp_path, transport=transport)
    assert list(tmp_path.iterdir()) == []


def test_the_workload_environment_is_required(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="SAPWOOD_TOKEN"):
        fetch_model("antinex@production", env={**ENV, "SAPWOOD_TOKEN": ""}, cache=tmp_path)


def test_references_and_cache_folder() -> None:
    assert parse_model_ref("antinex@production") == ("antinex", "production")
    with pytest.raises(ValueError, match="NAME@VERSION or NAME@ALIAS"):
        parse_model_ref("antinex")
    assert cache_dir({"SAPWOOD_HOME": "/srv/sw"}) == Path("/srv/sw/cache/models")
