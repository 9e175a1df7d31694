"""bench/control_plane.py --quick runs every step against a real server and ends with its
RESULT line: every key present, every figure measured (the PostgreSQL drain too where
PostgreSQL is configured, nan where it is not asked for); bench/object_lists.py likewise."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "control_plane.py"
KEYS = [
    "scale",
    "idle_cpu_pct_0",
    "idle_cpu_pct_1k",
    "idle_cpu_pct_10k",
    "idle_cpu_pct_50k",
    "admit_p50_ms_0",
    "admit_p99_ms_0",
    "admit_p50_ms_10k",
    "admit_p99_ms_10k",
    "admit_ratio_10k",
    "drain_jobs_per_s",
    "ratio_vs_kueue",
    "drain_pg_jobs_per_s",
    "ratio_vs_kueue_pg",
    "list_p50_ms",
    "list_p99_ms",
    "get_p50_ms",
    "get_p99_ms",
    "list_p50_ms_empty",
    "seed_jobs_per_s",
]
POSTGRES_KEYS = {"drain_pg_jobs_per_s", "ratio_vs_kueue_pg"}


def test_control_plane_bench_quick_prints_every_figure() -> None:
    postgres = os.environ.get("SAPWOOD_TEST_POSTGRES_URL")
    argv = [sys.executable, str(SCRIPT), "--quick"]
    env = dict(os.environ)
    if postgres:
        env["SAPWOOD_BENCH_POSTGRES_URL"] = postgres
    else:
        argv.append("--skip-postgres")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT control_plane: "), done.stdout
    figures = dict(item.split("=") for item in last.removeprefix("RESULT control_plane: ").split())
    assert list(figures) == KEYS
    assert figures.pop("scale") == "quick"
    for key, value in figures.items():
        if key in POSTGRES_KEYS and not postgres:
            assert math.isnan(float(value)), last  # not asked for
        else:
            assert float(value) >= 0, last  # measured: nan fails this


def test_object_lists_bench_prints_figures_with_and_without_the_indexes() -> None:
    script = SCRIPT.with_name("object_lists.py")
    argv = [sys.executable, str(script), "--objects", "300", "--requests", "3"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT object_lists: "), done.stdout
    figures = dict(item.split("=") for item in last.removeprefix("RESULT object_lists: ").split())
    assert {"list_p50_ms", "get_p50_ms", "before_list_p50_ms", "before_get_p50_ms"} <= set(figures)
    assert all(float(value) >= 0 for value in figures.values()), last
