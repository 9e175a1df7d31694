"""Launch latency: submit -> process running, Sapwood against `ray job submit`.

    .venv/bin/python bench/launch_latency.py [--jobs 100] [--skip-ray]

Sapwood: a real server (`sapwood server`) on a free loopback port with a fresh home; each
Job is applied with one `POST /api/v1/apply` over a keep-alive `http.client` connection.
Ray: a local head (`ray start --head`, job server on 127.0.0.1:8265) inside a network
namespace of its own (`unshare --net`, loopback only), driven by bench/_ray_launch.py under
Ray's separate environment (bench/.venv-ray; see docs/benchmarks.md), once through the
`ray job submit --no-wait` CLI (its start-up included) and once through the Python SDK
(`JobSubmissionClient.submit_job` from one long-lived process).

Sapwood's workloads run confined (bubblewrap, a uid per team as root) as a server runs
them by default; `--compare-isolation` adds a run with SAPWOOD_ISOLATION=off beside it.

Every job runs the same command, `sh -c 'date +%s.%N > FILE.tmp && mv FILE.tmp FILE'`;
latency = the time `date` printed - the wall-clock time just before the submit call. Jobs
go one at a time: the next is submitted once the previous one's file exists (polled every
millisecond). A few warm-up jobs go first on each system and are not counted.

Ends with one line `RESULT launch: ...`; ratio_vs_ray = ray_p50 / sapwood_p50 (above 1
means Sapwood is faster), against the better (lower p50) of Ray's CLI and SDK.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _latency_common import mark_command, measure, percentile, summary

ROOT = Path(__file__).resolve().parents[1]
SAPWOOD = ROOT / ".venv" / "bin" / "sapwood"
RAY_VENV = ROOT / "bench" / ".venv-ray"
RAY_SCRIPT = ROOT / "bench" / "_ray_launch.py"
READY_TIMEOUT_S = 60.0
MARK_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_config(path: Path) -> dict[str, str]:
    """The `key: value` lines of the config.yaml the server writes on first start."""
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "#")):
            values[key.strip()] = value.strip().strip("'\"")
    return values


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


def run_sapwood(
    jobs: int, warmup: int, work: Path, resources: dict[str, str], *, isolation: str
) -> dict[str, object]:
    """`isolation`: "auto" (workloads confined, the default) or "off" (the server's own
    user, no namespaces), to measure what confinement costs a launch."""
    home, marks = work / "home", work / "marks"
    marks.mkdir(parents=True)
    # A confined Job runs as its team's uid and sees this folder only as its workdir.
    marks.chmod(0o777)
    port = free_port()
    env = dict(os.environ, SAPWOOD_HOME=str(home), SAPWOOD_ISOLATION=isolation)
    with (work / "server.log").open("wb") as server_log:
        server = subprocess.Popen(
            [str(SAPWOOD), "server", "--port", str(port)],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                conn.request("GET", "/readyz")
                response = conn.getresponse()
                response.read()
                if response.status == 200 and (home / "config.yaml").exists():
                    break
            except (OSError, http.client.HTTPException):
                conn.close()
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the Sapwood server did not become ready; see {work}")
            time.sleep(0.05)
        token = read_config(home / "config.yaml")["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def submit(job: str, mark: Path) -> None:
            spec = {"command": mark_command(mark), "resources": resources, "workdir": str(marks)}
            body = {
                "objects": [
                    {
                        "apiVersion": "sapwood/v1",
                        "kind": "Job",
                        "metadata": {"name": job},
                        "spec": spec,
                    }
                ]
            }
            for attempt in (1, 2):
                try:
                    conn.request("POST", "/api/v1/apply", json.dumps(body), headers)
                    response = conn.getresponse()
                    payload = response.read()
                    break
                except (ConnectionError, http.client.HTTPException):
                    # The server closed the keep-alive connection (idle timeout); apply is
                    # idempotent, so reconnect and send it again, once.
                    conn.close()
                    if attempt == 2 or server.poll() is not None:
                        raise
            if response.status != 200:
                raise RuntimeError(f"apply {job}: HTTP {response.status}: {payload[:300]!r}")

        return measure("lat", jobs, warmup, marks, submit, MARK_TIMEOUT_S)
    except BaseException:
        tail = (work / "server.log").read_text(errors="replace").splitlines()[-30:]
        print("\n".join(["the Sapwood server's log ends:", *tail]), file=sys.stderr)
        raise
    finally:
        conn.close()
        stop_process(server)


def run_ray(jobs: int, warmup: int, work: Path) -> dict[str, object]:
    """Ray's figures from _ray_launch.py, or {"error": why} when Ray cannot be run."""
    python = RAY_VENV / "bin" / "python"
    if not python.exists():
        return {
            "error": f"no Ray environment at {RAY_VENV}: python3 -m venv {RAY_VENV} && "
            f"{python.parent / 'pip'} install 'ray[default]'"
        }
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return {"error": "`unshare` and `ip` are needed to confine Ray to loopback"}
    inner = (
        "ip link set lo up && exec "
        f"{python} {RAY_SCRIPT} --jobs {jobs} --warmup {warmup} --work-dir {work}"
    )
    # Budget: the head's start and stop, plus two passes of jobs at up to 10 s each.
    timeout_s = 300 + 2 * (jobs + warmup) * 10
    with (work / "ray-stderr.log").open("wb") as err:
        proc = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", inner],
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop_process(proc, timeout_s=120)  # its SIGTERM handler runs `ray stop --force`
        return {"error": f"the Ray run took over {timeout_s} s; see {work}"}
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": f"_ray_launch.py exited {proc.returncode}; see {work}/ray-stderr.log"}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def row(label: str, run: dict[str, object]) -> str:
    stats = summary(run["latencies_ms"])  # type: ignore[arg-type]
    submit_p50 = percentile(run["submit_ms"], 50)  # type: ignore[arg-type]
    cpu = float(run["client_cpu_s"]) + float(run["client_children_cpu_s"])  # type: ignore[arg-type]
    return (
        f"{label:<24}{stats['count']:>6}{run['failures']:>6}"
        f"{stats['p50']:>9.1f}{stats['p90']:>9.1f}{stats['p99']:>9.1f}"
        f"{stats['mean']:>9.1f}{stats['max']:>9.1f}{submit_p50:>11.1f}"
        f"{cpu:>11.2f}{float(run['wall_s']):>9.1f}"  # type: ignore[arg-type]
    )


def print_table(runs: dict[str, dict[str, object]]) -> None:
    print(
        f"{'system':<24}{'count':>6}{'fail':>6}{'p50':>9}{'p90':>9}{'p99':>9}"
        f"{'mean':>9}{'max':>9}{'submit p50':>11}{'client CPU':>11}{'wall':>9}"
    )
    units = f"{'(ms: submit -> process running)':>57}{'(ms)':>11}{'(s)':>11}{'(s)':>9}"
    print(f"{'':<24}{units}")
    for label, run in runs.items():
        print(row(label, run))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="measured jobs per system")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured jobs first")
    parser.add_argument("--skip-ray", action="store_true", help="measure Sapwood only")
    parser.add_argument(
        "--cpu",
        default="500m",
        help="the Sapwood Job's CPU request; it is also its CFS quota, so a tiny one (10m) "
        "throttles the workload itself and measures that, not the launch",
    )
    parser.add_argument("--memory", default="64Mi", help="the Sapwood Job's memory request")
    parser.add_argument(
        "--compare-isolation",
        action="store_true",
        help="also run Sapwood with SAPWOOD_ISOLATION=off, to show what confinement costs",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sw-launch-"))
    runs: dict[str, dict[str, object]] = {}
    ray_note = "skipped (--skip-ray)"
    try:
        print(
            f"Sapwood: {args.jobs} jobs (cpu {args.cpu}, memory {args.memory}), one at a time, "
            f"after {args.warmup} warm-up ..."
        )
        resources = {"cpu": args.cpu, "memory": args.memory}
        runs["sapwood"] = run_sapwood(
            args.jobs, args.warmup, work / "sapwood", resources, isolation="auto"
        )
        if args.compare_isolation:
            print(f"Sapwood without isolation: {args.jobs} jobs ...")
            runs["sapwood (no isolation)"] = run_sapwood(
                args.jobs, args.warmup, work / "sapwood-off", resources, isolation="off"
            )
        if not args.skip_ray:
            print(f"Ray: {args.jobs} jobs via the CLI, then {args.jobs} via the SDK ...")
            (work / "ray").mkdir()
            ray = run_ray(args.jobs, args.warmup, work / "ray")
            if "error" in ray:
                ray_note = f"not measured: {ray['error']}"
            else:
                ray_note = f"Ray {ray.get('ray_version')}, head up in {ray['head_start_s']:.1f} s"
            for mode in ("cli", "sdk"):
                if mode in ray:
                    runs[f"ray ({mode})"] = ray[mode]  # type: ignore[assignment]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print_table(runs)
    print(f"Ray: {ray_note}")
    print(
        "submit p50: how long the submit call took; client CPU: user+system CPU spent in the "
        "submit calls by the client and its children (the CLI), all measured jobs together"
    )

    def p(label: str, q: float) -> float:
        run = runs.get(label)
        return percentile(run["latencies_ms"], q) if run else math.nan  # type: ignore[arg-type]

    sapwood_p50, sapwood_p99 = p("sapwood", 50), p("sapwood", 99)
    cli_p50, sdk_p50 = p("ray (cli)", 50), p("ray (sdk)", 50)
    candidates = [m for m, v in (("sdk", sdk_p50), ("cli", cli_p50)) if not math.isnan(v)]
    best = min(candidates, key=lambda m: p(f"ray ({m})", 50)) if candidates else "none"
    ray_p50, ray_p99 = p(f"ray ({best})", 50), p(f"ray ({best})", 99)
    ratio = ray_p50 / sapwood_p50 if sapwood_p50 > 0 else math.nan
    if candidates:
        print(f"ratio_vs_ray uses Ray's {best.upper()} (the lower p50 of CLI and SDK)")
    print(
        f"RESULT launch: sapwood_p50_ms={sapwood_p50:.1f} sapwood_p99_ms={sapwood_p99:.1f} "
        f"ray_p50_ms={ray_p50:.1f} ray_p99_ms={ray_p99:.1f} ratio_vs_ray={ratio:.2f} "
        f"ray_cli_p50_ms={cli_p50:.1f} ray_sdk_p50_ms={sdk_p50:.1f} ray_best={best}"
        + (
            f" unconfined_p50_ms={p('sapwood (no isolation)', 50):.1f} "
            f"isolation_overhead_p50_ms={sapwood_p50 - p('sapwood (no isolation)', 50):.1f}"
            if args.compare_isolation
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
