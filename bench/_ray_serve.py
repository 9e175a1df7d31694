"""Ray Serve's half of serving.py: the benchmark's ONNX model behind Ray Serve's HTTP proxy.

Run by serving.py with Ray's own interpreter (bench/.venv-ray), inside the benchmark's
network namespace (`unshare --net`, loopback only):

    bench/.venv-ray/bin/python bench/_ray_serve.py --model-path model.onnx --port 8000 \
        --work-dir /tmp/x [--replicas 2]

Starts a local Ray (`ray.init`, token auth, no dashboard), then Serve with its HTTP proxy on
127.0.0.1:PORT and one deployment at `/`: `num_replicas` = the cores, each replica one ONNX
Runtime session (one intra-op thread, so the replicas together use the cores), requests
merged by `@serve.batch` (max_batch_size 64, a 2 ms wait) and `max_ongoing_requests` high
enough for the whole batch. A request is `{"rows": [[...67 floats...]]}`; the answer is
`{"probabilities": [[p0, p1], ...]}`, one list per row. Prints a JSON line with `ready` on
stdout once a request through the proxy has succeeded, then serves until its stdin closes
(Ray installs its own SIGTERM handler, so a signal is not the way), and shuts Serve and Ray
down.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 240.0
MAX_BATCH_SIZE = 64
BATCH_WAIT_S = 0.002


def build_app(model_path: str, replicas: int) -> Any:
    import numpy as np
    import onnxruntime as ort  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from ray import serve  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from starlette.requests import Request

    @serve.deployment(
        num_replicas=replicas,
        max_ongoing_requests=2 * MAX_BATCH_SIZE,
        ray_actor_options={"num_cpus": 1},
    )
    class Antinex:
        def __init__(self) -> None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(
                model_path, options, providers=["CPUExecutionProvider"]
            )
            self.input = self.session.get_inputs()[0].name

        @serve.batch(  # type: ignore[untyped-decorator,unused-ignore]
            max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S
        )
        async def predict(self, requests: list[Any]) -> list[list[list[float]]]:
            sizes = [len(rows) for rows in requests]
            batch = np.concatenate(requests).astype(np.float32, copy=False)
            out = self.session.run(None, {self.input: batch})[0]
            results, start = [], 0
            for n in sizes:
                results.append(out[start : start + n].tolist())
                start += n
            return results

        async def __call__(self, request: Request) -> dict[str, object]:
            body = await request.json()
            rows = np.asarray(body["rows"], dtype=np.float32)
            return {"probabilities": await self.predict(rows)}

    return Antinex.bind()  # type: ignore[attr-defined]


def wait_ready(port: int, features: int) -> None:
    body = json.dumps({"rows": [[0.0] * features]}).encode()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"Ray Serve did not answer on 127.0.0.1:{port}")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--features", type=int, default=67)
    args = parser.parse_args()

    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["HOME"] = str(args.work_dir)  # keep ~/.ray and friends out of the real home

    import ray  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from ray import serve  # type: ignore[import-not-found,import-untyped,unused-ignore]

    try:
        ray.init(
            num_cpus=args.replicas,
            include_dashboard=False,
            _temp_dir=str(args.work_dir / "ray"),
            log_to_driver=False,
        )
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        serve.run(build_app(args.model_path, args.replicas), name="antinex", route_prefix="/")
        wait_ready(args.port, args.features)
        print(json.dumps({"ready": True, "ray_version": ray.__version__}), flush=True)
        sys.stdin.read()  # until serving.py closes the pipe
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
