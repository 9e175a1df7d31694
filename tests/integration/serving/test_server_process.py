from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from sapwood.testing.onnx_models import mlp_model
from tests.integration.serving.support import serving_process

pytestmark = pytest.mark.slow

NAMES = [f"f{i}" for i in range(67)]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "antinex.onnx"
    path.write_bytes(mlp_model())
    return path


@pytest.fixture(scope="module")
def url(model_file: Path) -> Iterator[str]:
    args = ["--model-path", str(model_file), "--name", "antinex", "--version", "7"]
    args += ["--max-wait-ms", "5", "--threads", "1"]
    with serving_process(args, log=model_file.with_suffix(".log")) as url:
        yield url


@pytest.fixture(scope="module")
def reference(model_file: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])


def infer_body(x: np.ndarray) -> dict[str, object]:
    return {
        "id": f"rows-{len(x)}",
        "inputs": [
            {"name": "features", "shape": list(x.shape), "datatype": "FP32", "data": x.tolist()}
        ],
    }


def test_health_and_metadata(url: str) -> None:
    assert httpx.get(f"{url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{url}/v2/health/ready").json() == {"ready": True}
    metadata = httpx.get(f"{url}/v2/models/antinex").json()
    assert metadata["versions"] == ["7"]
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 67]}]


def test_concurrent_requests_each_get_their_own_rows_and_a_bad_one_fails_alone(
    url: str, reference: ort.InferenceSession
) -> None:
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(1 + i % 4, 67)).astype(np.float32) for i in range(96)]

    def call(i: int) -> httpx.Response:
        body = infer_body(inputs[i])
        if i == 50:  # one bad request among the good ones
            body["inputs"][0]["shape"] = [1, 66]  # type: ignore[index]
        return http.post(f"{url}/v2/models/antinex/versions/7/infer", json=body)

    with (
        httpx.Client(limits=httpx.Limits(max_connections=32)) as http,
        ThreadPoolExecutor(32) as pool,
    ):
        responses = list(pool.map(call, range(len(inputs))))
    for i, response in enumerate(responses):
        if i == 50:
            assert response.status_code == 400
            assert "shape [-1, 67] and datatype FP32" in response.json()["error"]
            continue
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["id"] == f"rows-{len(inputs[i])}"
        (tensor,) = answer["outputs"]
        got = np.reshape(tensor["data"], tensor["shape"])
        want = reference.run(None, {"features": inputs[i]})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unknown_models_and_versions_are_404(url: str) -> None:
    x = np.zeros((1, 67), dtype=np.float32)
    response = httpx.post(f"{url}/v2/models/nope/infer", json=infer_body(x))
    assert response.status_code == 404
    assert "'nope'" in response.json()["error"]
    response = httpx.post(f"{url}/v2/models/antinex/versions/6/infer", json=infer_body(x))
    assert response.status_code == 404
    assert httpx.get(f"{url}/v2/models/nope/ready").status_code == 404


def test_a_wrong_datatype_names_the_expected_shape_and_datatype(url: str) -> None:
    body = infer_body(np.zeros((1, 67), dtype=np.float32))
    body["inputs"][0]["datatype"] = "INT64"  # type: ignore[index]
    response = httpx.post(f"{url}/v2/models/antinex/infer", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == (
        "input 'features' must have shape [-1, 67] and datatype FP32; "
        "got shape [1, 67] and datatype INT64"
    )


def test_rows_of_named_features(url: str, reference: ort.InferenceSession) -> None:
    x = np.random.default_rng(2).normal(size=(3, 67)).astype(np.float32)
    rows = [dict(zip(NAMES, map(float, row), strict=True)) for row in x]
    response = httpx.post(f"{url}/v2/models/antinex/predict", json={"rows": rows})
    assert response.status_code == 200
    answer = response.json()
    want = reference.run(None, {"features": x})[0]
    assert answer["modelVersion"] == "7"
    assert answer["predictions"] == np.argmax(want, axis=1).tolist()
    np.testing.assert_allclose(answer["probabilities"], want, rtol=1e-5, atol=1e-6)
    del rows[1]["f40"]
    response = httpx.post(f"{url}/predict", json={"rows": rows})
    assert response.status_code == 400
    assert response.json() == {"error": "row 1 has no feature 'f40'"}


def test_metrics_count_requests_and_batches(url: str) -> None:
    httpx.post(f"{url}/predict", json={"rows": [[0.0] * 67]})
    text = httpx.get(f"{url}/metrics").text
    assert 'sapwood_serving_requests_total{code="200",endpoint="predict",model="antinex"}' in text
    assert "sapwood_serving_batch_rows_bucket" in text
    assert "sapwood_serving_inference_seconds_count" in text
