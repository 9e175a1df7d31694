from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest

from sapwood.serving.app import ServingApp
from sapwood.serving.model import LoadedModel

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(mlp: LoadedModel) -> AsyncIterator[httpx.AsyncClient]:
    app = ServingApp(lambda: [mlp], max_wait_s=0.001)
    await app.load()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://model") as http:
        yield http
    await app.close()


def infer(rows: int = 1) -> dict[str, object]:
    return {
        "inputs": [
            {"name": "features", "shape": [rows, 67], "datatype": "FP32", "data": [0.1] * 67 * rows}
        ]
    }


async def test_health_and_metadata(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/health/live")).json() == {"live": True}
    assert (await client.get("/v2/health/ready")).json() == {"ready": True}
    metadata = (await client.get("/v2/models/antinex")).json()
    assert metadata == {
        "name": "antinex",
        "versions": ["3"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 67]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
    }
    assert (await client.get("/v2/models/antinex/versions/3")).status_code == 200
    assert (await client.get("/v2/models/antinex/ready")).json()["ready"] is True


async def test_infer_by_name_and_by_version(client: httpx.AsyncClient, mlp: LoadedModel) -> None:
    for path in ("/v2/models/antinex/infer", "/v2/models/antinex/versions/3/infer"):
        response = await client.post(path, json=infer(2))
        assert response.status_code == 200
        (tensor,) = response.json()["outputs"]
        want = mlp.run({"features": np.full((2, 67), 0.1, dtype=np.float32)})[0]
        np.testing.assert_allclose(np.reshape(tensor["data"], tensor["shape"]), want, rtol=1e-5)


async def test_unknown_models_and_versions_are_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/models/other/infer", json=infer())
    assert response.status_code == 404
    assert "model 'other' is not served here" in response.json()["error"]
    response = await client.post("/v2/models/antinex/versions/2/infer", json=infer())
    assert response.status_code == 404
    assert "no version '2'" in response.json()["error"]
    assert (await client.get("/v2/models/other")).status_code == 404
    assert (await client.get("/v2/nothing")).status_code == 404
    assert (await client.get("/v2/models/antinex/infer")).status_code == 405


async def test_predict_and_metrics(client: httpx.AsyncClient) -> None:
    response = await client.post("/predict", json={"rows": [[0.1] * 67]})
    assert response.status_code == 200
    assert set(response.json()) == {"predictions", "probabilities", "modelVersion"}
    bad = await client.post("/v2/models/antinex/predict", json={"rows": [{"f0": 1}]})
    assert bad.status_code == 400
    assert bad.json() == {"error": "row 0 has no feature 'f1'"}
    metrics = (await client.get("/metrics")).text
    assert 'sapwood_serving_requests_total{code="200",endpoint="predict",model="antinex"}' in (
        metrics
    )
    assert 'sapwood_serving_requests_total{code="400",endpoint="predict",model="antinex"}' in (
        metrics
    )
    assert 'sapwood_serving_batches_total{model="antinex"} 1.0' in metrics


async def test_nothing_is_ready_before_the_models_load(mlp: LoadedModel) -> None:
    app = ServingApp(lambda: [mlp])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://model") as http:
        assert (await http.get("/v2/health/live")).status_code == 200
        assert (await http.get("/v2/health/ready")).status_code == 503
        assert (await http.post("/v2/models/antinex/infer", json=infer())).status_code == 503
    await app.close()
