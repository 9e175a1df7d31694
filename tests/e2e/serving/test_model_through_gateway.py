"""Push a model, deploy a Service on it, and get its predictions through the gateway.

`sapwood server` runs as a child process (it starts the gateway), the replicas are real
model-server processes on the local runtime, and the predictions are compared with what
ONNX Runtime computes for the same rows in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from sapwood.client import Client
from sapwood.schemas import Object
from sapwood.testing.onnx_models import mlp_model
from sapwood.testing.servers import free_port, start_server_process

pytestmark = pytest.mark.slow
FEATURES = [f"f{i}" for i in range(8)]


class Deployment:
    def __init__(self, client: Client, gateway: str, token: str) -> None:
        self.client = client
        self.gateway = gateway
        self.token = token

    def wait(self, what: str, check: Callable[[Object], bool], *, timeout_s: float = 90) -> Object:
        deadline = time.monotonic() + timeout_s
        while True:
            obj = self.client.get("service", "scorer")
            if check(obj):
                return obj
            if time.monotonic() > deadline:
                events = [
                    f"{e.reason}: {e.message}" for e in self.client.events("service", "scorer")
                ]
                raise AssertionError(f"{what} not reached: {obj.status}; events: {events}")
            time.sleep(0.2)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    port, gateway_port = free_port(), free_port()
    home = tmp_path / "home"
    with (tmp_path / "server.log").open("w") as log:
        server = start_server_process(home, port, output=log, gateway_port=gateway_port)
    token = _admin_token(home)
    client = Client(f"http://127.0.0.1:{port}", token=token)
    try:
        yield Deployment(client, f"http://127.0.0.1:{gateway_port}", token)
    finally:
        try:
            client.delete("service", "scorer")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                o.metadata.name == "scorer" for o in client.list("service")
            ):
                time.sleep(0.2)
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=30)


def _admin_token(home: Path) -> str:
    import yaml

    config = yaml.safe_load((home / "config.yaml").read_text())
    token: str = config["token"]
    return token


def test_a_pushed_model_answers_through_the_gateway(deployment: Deployment) -> None:
    model = mlp_model(features=len(FEATURES), hidden=8, classes=2, seed=3, feature_names=FEATURES)
    pushed = deployment.client.push_model(model, name="scorer", alias="production")
    deployment.client.apply(
        [
            {
                "apiVersion": "sapwood/v1",
                "kind": "Service",
                "metadata": {"name": "scorer"},
                "spec": {
                    "model": "scorer@production",
                    "resources": {"cpu": "250m", "memory": "256Mi"},
                },
            }
        ]
    )
    deployment.wait("a ready replica", lambda o: bool(o.status.get("endpoints")))

    rows = np.random.default_rng(0).normal(size=(5, len(FEATURES))).astype(np.float32)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    [expected] = session.run(None, {"features": rows})
    token = deployment.token
    url = f"{deployment.gateway}/s/default/scorer/v2/models/scorer/infer"
    body = {
        "inputs": [
            {
                "name": "features",
                "shape": list(rows.shape),
                "datatype": "FP32",
                "data": rows.ravel().tolist(),
            }
        ]
    }
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    [output] = answer.json()["outputs"]
    assert output["shape"] == [5, 2]
    np.testing.assert_allclose(np.array(output["data"]).reshape(5, 2), expected, rtol=1e-5)
    assert answer.json().get("model_version") in (str(pushed.version), None)

    named = {"rows": [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]}
    predicted = httpx.post(
        f"{deployment.gateway}/s/default/scorer/v2/models/scorer/predict",
        json=named,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"] == expected.argmax(axis=1).tolist()

    anonymous = httpx.post(url, json=body, timeout=30)
    assert anonymous.status_code == 401
