from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from sapwood.testing.onnx_models import mlp_model
from tests.integration.serving.support import serving_process

pytestmark = pytest.mark.slow

ARTIFACT = mlp_model(features=4, hidden=8, classes=3, seed=5)
DIGEST = hashlib.sha256(ARTIFACT).hexdigest()
# The registry's feature names win over the file's metadata.
FEATURES = ["bytes_in", "bytes_out", "packets", "duration"]
BASE = "/api/v1/teams/research/models/antinex/versions"


class RegistryHandler(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.headers.get("Authorization") != "Bearer workload-token":
            self._send(401, b'{"error": {"code": "unauthorized", "message": "bad token"}}')
        elif self.path in (f"{BASE}/production", f"{BASE}/4"):
            info = {
                "version": "4",
                "sha256": DIGEST,
                "features": FEATURES,
                "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
                "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
            }
            self._send(200, json.dumps(info).encode())
        elif self.path == f"{BASE}/4/artifact":
            self._send(200, ARTIFACT, content_type="application/octet-stream")
        else:
            self._send(404, b'{"error": {"code": "not_found", "message": "no such version"}}')

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RegistryHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def workload_env(registry_url: str, home: Path) -> dict[str, str]:
    return {
        "SAPWOOD_URL": registry_url,
        "SAPWOOD_TOKEN": "workload-token",
        "SAPWOOD_TEAM": "research",
        "SAPWOOD_HOME": str(home),
    }


def test_a_registry_model_is_fetched_cached_and_served(registry_url: str, tmp_path: Path) -> None:
    env = workload_env(registry_url, tmp_path)
    with serving_process(
        ["--model", "antinex@production"], env=env, log=tmp_path / "serving.log"
    ) as url:
        metadata = httpx.get(f"{url}/v2/models/antinex").json()
        assert metadata["versions"] == ["4"]
        assert metadata["outputs"] == [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}
        ]
        row = dict.fromkeys(FEATURES, 1.0)
        answer = httpx.post(f"{url}/predict", json={"rows": [row]}).json()
        assert answer["modelVersion"] == "4"
        assert len(answer["probabilities"][0]) == 3
        assert httpx.get(f"{url}/v2/models/antinex/versions/4/ready").status_code == 200
    cached = tmp_path / "cache" / "models" / f"{DIGEST}.onnx"
    assert cached.read_bytes() == ARTIFACT


def test_a_model_the_registry_does_not_know_ends_the_process(
    registry_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env.update(workload_env(registry_url, tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "sapwood.serving", "--model", "antinex@staging", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "the registry refused antinex@staging" in result.stderr
    assert "no such version" in result.stderr
