"""bench/serving.py runs end to end for Sapwood and in-process ONNX Runtime (no Ray, no
BentoML needed) and ends with its RESULT line; a peer it cannot start is nan, not a crash."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "serving.py"


def test_serving_bench_prints_figures_for_sapwood_and_ort() -> None:
    argv = [sys.executable, str(SCRIPT), "--only", "sapwood,ort", "--no-netns"]
    done = subprocess.run(
        [*argv, "--seconds", "0.3", "--warmup-seconds", "0.1", "--slices", "1"],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT serving: "), done.stdout
    figures = dict(item.split("=") for item in last.removeprefix("RESULT serving: ").split())
    assert list(figures) == [
        "rps_c64",
        "ratio_vs_ray",
        "ratio_vs_bentoml",
        "gateway_p50_overhead_ms",
        "rps_c64_direct",
        "ray_rps_c64",
        "bentoml_rps_c64",
        "ort_rps_c64",
    ]
    for key in ("rps_c64", "rps_c64_direct", "ort_rps_c64"):
        assert float(figures[key]) > 0, last
    assert not math.isnan(float(figures["gateway_p50_overhead_ms"])), last
    for key in ("ratio_vs_ray", "ray_rps_c64", "bentoml_rps_c64"):  # not asked for
        assert math.isnan(float(figures[key])), last
