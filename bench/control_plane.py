"""The control plane at scale: idle cost, admission latency, a Kueue-shaped drain, list/get.

    .venv/bin/python bench/control_plane.py [--quick] [--skip-postgres] [--window-s 20]

Every figure comes from the real server (``create_app`` under uvicorn, no gateway) in a
process of its own, started by bench/_control_plane_server.py on a runtime whose units
exit successfully the moment they start (the shipped FakeRuntime): this measures the
control plane, not workloads. The bench talks to it over HTTP only, except that it counts
finished Jobs during the drain with one read-only SQL query, so watching costs the server
nothing.

1. Idle CPU. A server on SQLite whose runtime has 8 CPUs and no GPU is seeded with Jobs
   that each ask for a GPU, so they stay Pending and nothing changes them: 0, 1,000,
   10,000 and 50,000 of them (applied 500 to a request). At each step, once the server has
   settled (a 2 s slice under 3% of a core, or 30 s at most), the server process's CPU
   time (user + system, with anything it spawned) is read with psutil over a fixed window
   (20 s): percent of one core. Goals: <= 1% at 10,000, <= 2% at 50,000.
2. Apply -> admitted. With 0 and with 10,000 of those Jobs present, one small CPU Job at a
   time is applied and its GET polled every 2 ms until its phase is past Pending; latency
   = the first such GET's answer - the time just before the apply. Goal: the p50 with
   10,000 present within 1.5x of the p50 with none.
3. List and get with 50,000 objects: ``GET /api/v1/jobs?limit=50`` (the first page) and
   ``GET /api/v1/jobs/<name>`` of random seeded Jobs, one at a time, p50/p99. Goal: p50
   <= 10 ms for a page of 50.
4. Drain, the shape of Kueue's performance test: 30 teams, each with a guaranteed quota of
   20 CPUs (borrowing allowed) on a runtime of 600 CPUs; 15,000 one-CPU Jobs spread evenly
   over the teams, all applied at once (500 to a request, back to back); jobs_per_s =
   15,000 / (the last Job Succeeded - the first apply sent), ratio_vs_kueue = jobs_per_s / 43
   (Kueue drains 15,000 workloads in about 351 s). Goal >= 500 Jobs/s. Run on SQLite and
   again on PostgreSQL (a fresh schema in $SAPWOOD_BENCH_POSTGRES_URL, default
   postgresql://postgres@127.0.0.1:5432/test, dropped afterwards); nan when unreachable.

``--quick`` runs every step with small numbers (for tests; the keys stay the same, and
``scale=quick`` says so). Ends with one line ``RESULT control_plane: key=value ...``.
The machine's load average is printed beside each idle figure: other work on the machine
makes the server's own figures noisier, not larger.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy
from sqlalchemy.engine import make_url

from _latency_common import percentile
from sapwood.server.store.engine import sync_url
from sapwood.server.store.tables import ObjectRow

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / "bench" / "_control_plane_server.py"
TOKEN_FILE = "admin-token"
POSTGRES_URL = os.environ.get(
    "SAPWOOD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
KUEUE_JOBS_PER_S = 15_000 / 351
BATCH = 500  # the most documents one apply takes
READY_TIMEOUT_S = 60.0
ADMIT_TIMEOUT_S = 60.0
SETTLE_SLICE_S = 2.0
SETTLE_BELOW_PCT = 3.0
ADMITTED = {"Admitted", "Running", "Succeeded"}


@dataclass(frozen=True)
class Scale:
    name: str
    idle_steps: tuple[int, ...]  # pending Jobs present at each idle measurement
    window_s: float
    settle_max_s: float
    admit_samples: int
    admit_at: int  # the idle step at which admission latency is measured again
    lookups: int
    drain_jobs: int
    drain_timeout_s: float


FULL = Scale("full", (0, 1_000, 10_000, 50_000), 20.0, 30.0, 50, 10_000, 200, 15_000, 1200.0)
QUICK = Scale("quick", (0, 20, 100, 300), 1.0, 2.0, 3, 100, 10, 150, 120.0)
STEP_KEYS = ("0", "1k", "10k", "50k")
TEAMS = 30
TEAM_GUARANTEED_CPUS = 20
DRAIN_CPUS = TEAMS * TEAM_GUARANTEED_CPUS
# Counting finished Jobs reads every Job's status: often enough for a drain of 30 s or
# more to be timed within 2%, seldom enough to leave the server its CPUs.
DRAIN_POLL_S = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def job(name: str, *, team: str | None = None, gpu: int = 0, cpu: str = "100m") -> dict[str, Any]:
    resources: dict[str, Any] = {"cpu": cpu, "memory": "64Mi"}
    if gpu:
        resources["gpu"] = gpu
    metadata: dict[str, Any] = {"name": name, "labels": {"bench": "control-plane"}}
    if team is not None:
        metadata["team"] = team
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"command": ["true"], "resources": resources},
    }


class Server:
    """One server process (the launcher) and an HTTP client holding its admin token."""

    def __init__(
        self,
        work: Path,
        *,
        database_url: str | None,
        cpus: int,
        gpus: int,
        extra: Sequence[str] = (),
    ) -> None:
        self.home = work / "home"
        self.port = free_port()
        argv = [sys.executable, str(LAUNCHER), "--home", str(self.home)]
        argv += ["--port", str(self.port), "--cpus", str(cpus), "--gpus", str(gpus), *extra]
        if database_url:
            argv += ["--database-url", database_url]
        self.log = work / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.ps = psutil.Process(self.proc.pid)
        base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=base, timeout=120)
        deadline = time.monotonic() + READY_TIMEOUT_S
        token_path = self.home / TOKEN_FILE
        while True:
            try:
                if self.http.get("/readyz").status_code == 200 and token_path.exists():
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the server did not become ready; see {self.log}")
            time.sleep(0.05)
        self.http.headers["Authorization"] = f"Bearer {token_path.read_text().strip()}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def apply(self, documents: list[dict[str, Any]]) -> None:
        for start in range(0, len(documents), BATCH):
            self.call("POST", "/api/v1/apply", {"objects": documents[start : start + BATCH]})

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server and everything it spawned, so far."""
        times = self.ps.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self.ps.children(recursive=True):
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += child_times.user + child_times.system
        return total

    def cpu_pct(self, seconds: float) -> float:
        before, started = self.cpu_s(), time.monotonic()
        time.sleep(seconds)
        return (self.cpu_s() - before) / (time.monotonic() - started) * 100

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(work: Path, *, database_url: str | None, cpus: int, gpus: int) -> Iterator[Server]:
    work.mkdir(parents=True)
    server = Server(work, database_url=database_url, cpus=cpus, gpus=gpus)
    try:
        yield server
    except BaseException:
        print(f"the server's log ends:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()


def idle_cpu(server: Server, scale: Scale) -> tuple[float, float]:
    """(percent of one core over the window, seconds it took to settle first)."""
    started = time.monotonic()
    while time.monotonic() - started < scale.settle_max_s:
        if server.cpu_pct(min(SETTLE_SLICE_S, scale.window_s)) < SETTLE_BELOW_PCT:
            break
    settled = time.monotonic() - started
    return server.cpu_pct(scale.window_s), settled


def admit_latencies(server: Server, prefix: str, samples: int) -> tuple[list[float], int]:
    """Apply -> first GET past Pending, in ms, one Job at a time; and how many timed out."""
    latencies: list[float] = []
    failures = 0
    for i in range(samples):
        name = f"{prefix}-{i:03d}"
        started = time.perf_counter()
        server.call("POST", "/api/v1/apply", {"objects": [job(name)]})
        deadline = started + ADMIT_TIMEOUT_S
        while True:
            phase = server.call("GET", f"/api/v1/jobs/{name}")["status"].get("phase")
            if phase in ADMITTED:
                latencies.append((time.perf_counter() - started) * 1000)
                break
            if phase == "Failed" or time.perf_counter() > deadline:
                failures += 1
                break
            time.sleep(0.002)
    return latencies, failures


def timed_gets(server: Server, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        server.call("GET", path)
        out.append((time.perf_counter() - started) * 1000)
    return out


def scale_run(work: Path, scale: Scale, figures: dict[str, float]) -> None:
    """Idle CPU at each step, admission latency at 0 and at admit_at, list/get at the last."""
    with running(work, database_url=None, cpus=8, gpus=0) as server:
        present = 0
        for key, target in zip(STEP_KEYS, scale.idle_steps, strict=True):
            if target > present:
                seeded = time.monotonic()
                names = [f"idle-{i:05d}" for i in range(present, target)]
                server.apply([job(n, gpu=1) for n in names])
                rate = (target - present) / (time.monotonic() - seeded)
                print(f"  seeded {target - present} pending Jobs at {rate:.0f}/s", flush=True)
                figures["seed_jobs_per_s"] = rate
                present = target
            pct, settled = idle_cpu(server, scale)
            figures[f"idle_cpu_pct_{key}"] = pct
            load = os.getloadavg()[0]
            print(
                f"  {present:>6} pending: idle server CPU {pct:.2f}% of a core over "
                f"{scale.window_s:.0f} s (settled after {settled:.0f} s; load average {load:.2f})",
                flush=True,
            )
            if target in (0, scale.admit_at):
                which = "0" if target == 0 else "10k"
                if target == 0:
                    list_empty = timed_gets(server, ["/api/v1/jobs?limit=50"] * scale.lookups)
                    figures["list_p50_ms_empty"] = percentile(list_empty, 50)
                latencies, failures = admit_latencies(server, f"admit-{which}", scale.admit_samples)
                figures[f"admit_p50_ms_{which}"] = percentile(latencies, 50)
                figures[f"admit_p99_ms_{which}"] = percentile(latencies, 99)
                print(
                    f"  {present:>6} pending: apply -> admitted p50 "
                    f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms "
                    f"({len(latencies)} Jobs, {failures} not admitted in {ADMIT_TIMEOUT_S:.0f} s)",
                    flush=True,
                )
        rng = random.Random(1)
        lists = timed_gets(server, ["/api/v1/jobs?limit=50"] * scale.lookups)
        gets = timed_gets(
            server,
            [f"/api/v1/jobs/idle-{rng.randrange(present):05d}" for _ in range(scale.lookups)],
        )
        for label, values in (("list", lists), ("get", gets)):
            figures[f"{label}_p50_ms"] = percentile(values, 50)
            figures[f"{label}_p99_ms"] = percentile(values, 99)
        print(
            f"  {present:>6} pending: GET /api/v1/jobs?limit=50 p50 {percentile(lists, 50):.1f} "
            f"ms, p99 {percentile(lists, 99):.1f} ms; GET /api/v1/jobs/<name> p50 "
            f"{percentile(gets, 50):.1f} ms, p99 {percentile(gets, 99):.1f} ms",
            flush=True,
        )


def finished_jobs(engine: sqlalchemy.Engine) -> tuple[int, int]:
    """(Succeeded, Failed) Jobs, in one read-only query."""
    phase = ObjectRow.status["phase"].as_string()
    query = (
        sqlalchemy.select(phase, sqlalchemy.func.count())
        .where(ObjectRow.kind == "Job", phase.in_(("Succeeded", "Failed")))
        .group_by(phase)
    )
    with engine.connect() as conn:
        counts = {str(p): int(n) for p, n in conn.execute(query)}
    return counts.get("Succeeded", 0), counts.get("Failed", 0)


def drain(work: Path, scale: Scale, database_url: str | None) -> float:
    """Succeeded Jobs per second over the whole drain (all of them, unless it timed out)."""
    with running(work, database_url=database_url, cpus=DRAIN_CPUS, gpus=0) as server:
        teams = [f"team-{i:02d}" for i in range(TEAMS)]
        for team in teams:
            server.call("POST", "/api/v1/teams", {"name": team})
            quota = {"guaranteed": {"cpu": TEAM_GUARANTEED_CPUS, "memory": "80Gi"}}
            server.call("PUT", f"/api/v1/quotas/{team}", quota)
        documents = [
            job(f"drain-{i:05d}", team=teams[i % TEAMS], cpu="1") for i in range(scale.drain_jobs)
        ]
        engine = sqlalchemy.create_engine(
            sync_url(database_url or f"sqlite:///{server.home / 'sapwood.db'}")
        )
        try:
            started = time.monotonic()
            server.apply(documents)
            submitted = time.monotonic() - started
            done = failed = 0
            while time.monotonic() - started < scale.drain_timeout_s:
                done, failed = finished_jobs(engine)
                if done + failed >= scale.drain_jobs:
                    break
                time.sleep(DRAIN_POLL_S)
            elapsed = time.monotonic() - started
        finally:
            engine.dispose()
        rate = done / elapsed
        print(
            f"  {done} of {scale.drain_jobs} Jobs Succeeded ({failed} Failed) in {elapsed:.1f} s "
            f"(all applied after {submitted:.1f} s): {rate:.0f} Jobs/s",
            flush=True,
        )
        if done < scale.drain_jobs:
            print("  incomplete: the rate above counts only the Jobs that succeeded", flush=True)
        return rate


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A fresh schema's URL (search_path set), dropped afterwards; None when unreachable."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    base = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = sqlalchemy.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        print(f"  PostgreSQL not reachable at {POSTGRES_URL}: {exc.orig}", flush=True)
        yield None
        return
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small numbers, for tests")
    parser.add_argument("--skip-postgres", action="store_true", help="no PostgreSQL drain")
    parser.add_argument("--window-s", type=float, default=None, help="idle window (20 s)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--steps",
        default="scale,drain",
        help="scale (idle CPU, admission, list and get), drain, or both; a step left out "
        "reports nan",
    )
    parser.add_argument("--drain-timeout-s", type=float, default=None, help="(1200 s)")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    if args.window_s is not None:
        scale = replace(scale, window_s=args.window_s)
    if args.drain_timeout_s is not None:
        scale = replace(scale, drain_timeout_s=args.drain_timeout_s)
    steps = set(args.steps.split(","))
    if not steps <= {"scale", "drain"}:
        parser.error(f"--steps takes scale and drain, not {args.steps!r}")

    figures: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="sw-control-plane-"))
    print(f"control plane, {scale.name} scale, {os.cpu_count()} CPUs, work folder {work}")
    try:
        if "scale" in steps:
            print("Idle CPU, apply -> admitted, list and get (SQLite):", flush=True)
            scale_run(work / "scale", scale, figures)
        if "drain" in steps:
            print(f"Drain: {scale.drain_jobs} Jobs in {TEAMS} teams on SQLite:", flush=True)
            figures["drain_jobs_per_s"] = drain(work / "drain-sqlite", scale, None)
        if "drain" in steps and not args.skip_postgres:
            print(f"Drain: {scale.drain_jobs} Jobs in {TEAMS} teams on PostgreSQL:", flush=True)
            with postgres_schema() as url:
                if url is not None:
                    figures["drain_pg_jobs_per_s"] = drain(work / "drain-postgres", scale, url)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    def f(key: str) -> float:
        return figures.get(key, math.nan)

    admit_ratio = f("admit_p50_ms_10k") / f("admit_p50_ms_0") if f("admit_p50_ms_0") else math.nan
    print(
        f"RESULT control_plane: scale={scale.name} "
        + " ".join(f"idle_cpu_pct_{key}={f(f'idle_cpu_pct_{key}'):.2f}" for key in STEP_KEYS)
        + f" admit_p50_ms_0={f('admit_p50_ms_0'):.1f} admit_p99_ms_0={f('admit_p99_ms_0'):.1f}"
        f" admit_p50_ms_10k={f('admit_p50_ms_10k'):.1f}"
        f" admit_p99_ms_10k={f('admit_p99_ms_10k'):.1f} admit_ratio_10k={admit_ratio:.2f}"
        f" drain_jobs_per_s={f('drain_jobs_per_s'):.0f}"
        f" ratio_vs_kueue={f('drain_jobs_per_s') / KUEUE_JOBS_PER_S:.2f}"
        f" drain_pg_jobs_per_s={f('drain_pg_jobs_per_s'):.0f}"
        f" ratio_vs_kueue_pg={f('drain_pg_jobs_per_s') / KUEUE_JOBS_PER_S:.2f}"
        f" list_p50_ms={f('list_p50_ms'):.1f} list_p99_ms={f('list_p99_ms'):.1f}"
        f" get_p50_ms={f('get_p50_ms'):.1f} get_p99_ms={f('get_p99_ms'):.1f}"
        f" list_p50_ms_empty={f('list_p50_ms_empty'):.1f}"
        f" seed_jobs_per_s={f('seed_jobs_per_s'):.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
