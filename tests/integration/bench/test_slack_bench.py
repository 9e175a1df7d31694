"""bench/slack.py runs end to end against a real server and the fake Slack, in both modes,
and ends with its RESULT line: every figure measured, the goals judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "slack.py"
KEYS = [
    "mode",
    "runs",
    "modal_p50_ms",
    "modal_p99_ms",
    "form_p99_ms",
    "running_p50_ms",
    "running_p95_ms",
    "api_running_p50_ms",
    "api_running_p95_ms",
    "ratio_vs_api",
    "modal_goal_met",
    "running_goal_met",
    "loadgen_cpu_s",
    "server_cpu_s",
]


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_the_slack_bench_measures_every_figure(mode: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--runs", "2", "--warmup", "0", "--mode", mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT slack: "), last
    pairs = dict(item.split("=", 1) for item in last.removeprefix("RESULT slack: ").split())
    assert list(pairs) == KEYS
    assert pairs["mode"] == mode
    assert pairs["runs"] == "2"
    for key in KEYS[2:10]:
        assert float(pairs[key]) > 0, key
