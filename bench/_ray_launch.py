"""Ray's half of launch_latency.py: submit -> process running, through the CLI and the SDK.

Run by launch_latency.py with Ray's own interpreter inside a fresh network namespace
(`unshare --net`, loopback only), so the head cannot bind or reach any other address:

    unshare --net sh -c 'ip link set lo up && exec bench/.venv-ray/bin/python \
        bench/_ray_launch.py --jobs 100 --work-dir /tmp/x'

Starts a local head (`ray start --head`, dashboard and job server on 127.0.0.1), warms it
up, then submits jobs one at a time, each writing its start time to a file as its first
action; waits for that file before the next. Always ends with `ray stop --force`. Prints one
JSON document on stdout (everything Ray prints goes to stderr or to the work directory).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _latency_common import mark_command, mark_shell, measure

DASHBOARD = "http://127.0.0.1:8265"
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120.0
MARK_TIMEOUT_S = 60.0


def run_quiet(argv: list[str], log: Path, timeout_s: float) -> None:
    with log.open("ab") as out:
        subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, check=True)


def wait_dashboard() -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(
                f"{DASHBOARD}/api/version",
                headers={"Authorization": f"Bearer {os.environ['RAY_AUTH_TOKEN']}"},
            )
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Ray's dashboard did not answer on {DASHBOARD}")


def on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(f"signal {signum}")  # so that `finally` stops the head


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)

    work: Path = args.work_dir
    marks = work / "marks"
    marks.mkdir(parents=True, exist_ok=True)
    log = work / "ray.log"
    # Token auth, as `ray start` now wants by default; the token lives only in the env.
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["HOME"] = str(work)  # keep ~/.ray and friends out of the real home
    ray = str(BIN / "ray")
    result: dict[str, object] = {}
    try:
        import ray as ray_module

        result["ray_version"] = ray_module.__version__
        started = time.monotonic()
        run_quiet(
            [
                ray,
                "start",
                "--head",
                "--port=6379",
                "--node-ip-address=127.0.0.1",
                "--dashboard-host=127.0.0.1",
                "--include-dashboard=true",
                f"--num-cpus={args.num_cpus}",
                "--disable-usage-stats",
                f"--temp-dir={work / 'ray'}",
            ],
            log,
            START_TIMEOUT_S,
        )
        wait_dashboard()
        result["head_start_s"] = time.monotonic() - started

        def submit_cli(job: str, mark: Path) -> None:
            argv = [ray, "job", "submit", "--no-wait", "--address", DASHBOARD, "--"]
            run_quiet([*argv, *mark_command(mark)], log, MARK_TIMEOUT_S)

        result["cli"] = measure("cli", args.jobs, args.warmup, marks, submit_cli, MARK_TIMEOUT_S)

        from ray.job_submission import JobSubmissionClient

        client = JobSubmissionClient(DASHBOARD)

        def submit_sdk(job: str, mark: Path) -> None:
            client.submit_job(entrypoint=mark_shell(mark))

        result["sdk"] = measure("sdk", args.jobs, args.warmup, marks, submit_sdk, MARK_TIMEOUT_S)
    except (Exception, SystemExit) as exc:  # reported, not raised: the caller prints nan for Ray
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            run_quiet([ray, "stop", "--force"], log, 120)
        except Exception as exc:
            result.setdefault("error", f"ray stop failed: {exc}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
